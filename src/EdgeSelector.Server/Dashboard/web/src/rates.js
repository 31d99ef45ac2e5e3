// Arithmetic over /dashboard/stats snapshots: the server sends raw counters, the page turns two snapshots into rates
// and windowed latency percentiles. Pure functions, tested by test/rates.test.mjs (`npm test`).

/** Seconds between two snapshots, by the node's clock. */
export function seconds(older, newer) {
  return (newer.atMs - older.atMs) / 1000;
}

/** Per-second rate of a counter between two readings; 0 when no time passed (a counter never goes down). */
export function rate(before, after, dt) {
  return dt > 0 ? Math.max(0, after - before) / dt : 0;
}

/** Sum of the requests of every op between two snapshots. */
export function requestDelta(older, newer) {
  let sum = 0;
  for (const op of newer.requests) {
    sum += op.total - (older.requests.find((o) => o.op === op.op)?.total ?? 0);
  }
  return sum;
}

/** Per-bucket request counts between two snapshots, summed over `ops` (names; all ops when omitted). */
export function bucketDelta(older, newer, ops) {
  const counts = new Array(newer.latencyBoundsMicros.length + 1).fill(0);
  for (const op of newer.requests) {
    if (ops && !ops.includes(op.op)) continue;
    const before = older.requests.find((o) => o.op === op.op);
    for (let i = 0; i < counts.length; i++) {
      counts[i] += op.buckets[i] - (before ? before.buckets[i] : 0);
    }
  }
  return counts;
}

/**
 * The q-quantile (0..1) of a histogram given per-bucket counts and the buckets' upper bounds (one fewer than counts:
 * the last bucket has no upper bound). Interpolates linearly inside the bucket, as Prometheus's histogram_quantile
 * does; a quantile that falls in the last bucket is reported as the highest bound. Null when the histogram is empty.
 */
export function quantile(q, counts, bounds) {
  const total = counts.reduce((sum, c) => sum + c, 0);
  if (!(total > 0)) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] <= 0) continue;
    if (below + counts[i] >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * Math.max(0, rank - below) / counts[i];
    }
    below += counts[i];
  }
  return bounds[bounds.length - 1];
}

/** The newest snapshot of `history` (oldest first) taken at least `ms` before the last one, else the oldest. */
export function atLeastAgo(history, ms) {
  const last = history[history.length - 1];
  for (let i = history.length - 2; i >= 0; i--) {
    if (last.atMs - history[i].atMs >= ms) return history[i];
  }
  return history[0];
}
