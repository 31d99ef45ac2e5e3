// `npm test` (node's own test runner): the page's arithmetic, checked against values worked out by hand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atLeastAgo, bucketDelta, quantile, rate, requestDelta, seconds } from '../src/rates.js';

const bounds = [10, 25, 50, 100];

test('quantile interpolates inside the bucket as histogram_quantile does', () => {
  // 10 requests: 4 in (0,10], 4 in (10,25], 2 in (25,50].
  const counts = [4, 4, 2, 0, 0];
  assert.equal(quantile(0.5, counts, bounds), 10 + 15 * (1 / 4)); // rank 5: one into the second bucket
  assert.equal(quantile(0.4, counts, bounds), 10); // rank 4: the top of the first bucket
  assert.equal(quantile(0.9, counts, bounds), 25 + 25 * (1 / 2));
  assert.equal(quantile(1, counts, bounds), 50);
});

test('quantile in the last, unbounded bucket is the highest bound; an empty histogram has none', () => {
  assert.equal(quantile(0.99, [0, 0, 0, 1, 99], bounds), 100);
  assert.equal(quantile(0.5, [0, 0, 0, 0, 0], bounds), null);
});

test('quantile skips empty buckets below the rank', () => {
  assert.equal(quantile(0.5, [0, 0, 0, 2, 0], bounds), 50 + 50 * (1 / 2));
});

const a = { atMs: 1000, latencyBoundsMicros: bounds, requests: [{ op: 'select', total: 5, buckets: [1, 2, 2, 0, 0] }, { op: 'ping', total: 1, buckets: [1, 0, 0, 0, 0] }] };
const b = { atMs: 3000, latencyBoundsMicros: bounds, requests: [{ op: 'select', total: 15, buckets: [1, 6, 6, 2, 0] }, { op: 'ping', total: 4, buckets: [4, 0, 0, 0, 0] }] };

test('deltas and rates between two snapshots', () => {
  assert.equal(seconds(a, b), 2);
  assert.equal(requestDelta(a, b), 13);
  assert.equal(rate(5, 15, 2), 5);
  assert.equal(rate(15, 15, 0), 0);
  assert.deepEqual(bucketDelta(a, b), [3, 4, 4, 2, 0]);
  assert.deepEqual(bucketDelta(a, b, ['select']), [0, 4, 4, 2, 0]);
});

test('atLeastAgo picks the newest snapshot old enough, else the oldest', () => {
  const history = [{ atMs: 0 }, { atMs: 500 }, { atMs: 1000 }, { atMs: 1600 }];
  assert.equal(atLeastAgo(history, 1000).atMs, 500);
  assert.equal(atLeastAgo(history, 5000).atMs, 0);
});
