// The dashboard: polls GET /dashboard/stats a few times a second and GET /dashboard/titles every two seconds, derives
// rates and percentiles from consecutive snapshots, and draws them. The admin token lives in one variable of this
// module: never in localStorage, a cookie or the URL, gone when the tab closes (docs/dashboard.md).
import './main.css';
import { $, fill } from './dom.js';
import { TimeChart } from './charts.js';
import { bytes, compact, count, micros } from './format.js';
import { atLeastAgo, bucketDelta, quantile, rate, requestDelta, seconds } from './rates.js';
import { renderBundle, renderCards, renderFleet, renderOps, renderTitles, renderTotals } from './views.js';

const REFRESH_MS = 500;
const HIDDEN_REFRESH_MS = 5000; // a background tab asks ten times less often
const TITLES_EVERY_MS = 2000;
const HISTORY_MS = 10_000; // raw snapshots kept for the rate (1 s) and percentile (5 s) windows

let token = null; // the admin token: in memory only
let history = [];
let charts = null;
let refreshes = 0;
let titlesAt = 0;
let failures = 0;
let timer = 0;
let armedRollback = 0;

function derive(history) {
  if (history.length < 2) return null;
  const last = history[history.length - 1];
  const second = atLeastAgo(history, 1000);
  const five = atLeastAgo(history, 5000);
  const dt = seconds(second, last);
  const bounds = last.latencyBoundsMicros;
  const all = bucketDelta(five, last);
  const fallbackRates = {};
  for (const [reason, n] of Object.entries(last.fallbacks)) fallbackRates[reason] = rate(second.fallbacks[reason] ?? 0, n, dt);
  const ops = {};
  for (const op of last.requests) {
    const before = second.requests.find((o) => o.op === op.op);
    const counts = bucketDelta(five, last, [op.op]);
    ops[op.op] = { rate: rate(before?.total ?? 0, op.total, dt), p50: quantile(0.5, counts, bounds), p99: quantile(0.99, counts, bounds) };
  }
  return {
    requestRate: dt > 0 ? requestDelta(second, last) / dt : 0,
    selectionRate: rate(second.selections, last.selections, dt),
    fallbackRate: Object.values(fallbackRates).reduce((s, r) => s + r, 0),
    fallbackRates,
    p50: quantile(0.5, all, bounds),
    p90: quantile(0.9, all, bounds),
    p99: quantile(0.99, all, bounds),
    ops,
  };
}

function makeCharts(stats) {
  return {
    throughput: new TimeChart($('chart-throughput'), [{ label: 'requests/s' }, { label: 'selections/s' }], compact),
    latency: new TimeChart($('chart-latency'), [{ label: 'p50' }, { label: 'p90' }, { label: 'p99' }], micros, { log: true }),
    fallbacks: new TimeChart($('chart-fallbacks'), Object.keys(stats.fallbacks).map((label) => ({ label })), compact),
    lag: new TimeChart($('chart-lag'), [{ label: 'impression log' }, { label: 'reward log' }], bytes, { floor: 4096 }),
    connections: new TimeChart($('chart-connections'), [{ label: 'open' }], compact),
    memory: new TimeChart($('chart-memory'), [{ label: 'working set' }, { label: 'GC heap' }], compact),
  };
}

function draw(stats, now) {
  charts ??= makeCharts(stats);
  const t = stats.atMs / 1000;
  charts.throughput.push(t, [now?.requestRate, now?.selectionRate]);
  charts.latency.push(t, [now?.p50, now?.p90, now?.p99]);
  charts.fallbacks.push(t, Object.keys(stats.fallbacks).map((reason) => now?.fallbackRates[reason]));
  charts.lag.push(t, [stats.impressionLog.enabled ? stats.impressionLog.lagBytes : null, stats.rewardLog.lagBytes]);
  charts.connections.push(t, [stats.connections.open]);
  charts.memory.push(t, [stats.memory.workingSetBytes / 1048576, stats.memory.gcHeapBytes / 1048576]);
}

function renderHeader(stats) {
  fill($('node'), `node ${stats.node.nodeId} · ${stats.node.policy} · server ${stats.node.version}`);
  const ready = $('ready');
  ready.textContent = stats.node.ready ? 'ready' : 'not ready';
  ready.title = stats.node.readiness;
  ready.className = `badge ${stats.node.ready ? 'good' : 'bad'}`;
  fill($('updated'), `updated ${new Date(stats.atMs).toLocaleTimeString('en-GB')}`);
  const rollback = $('rollback');
  if (!armedRollback) {
    rollback.disabled = !stats.bundle.previousVersion;
    rollback.textContent = stats.bundle.previousVersion ? `Roll back to v${stats.bundle.previousVersion}` : 'Roll back (no previous bundle)';
  }
}

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function refresh() {
  clearTimeout(timer);
  try {
    const stats = await getJson('/dashboard/stats');
    history.push(stats);
    while (history.length > 2 && stats.atMs - history[0].atMs > HISTORY_MS) history.shift();
    const now = derive(history);
    renderHeader(stats);
    renderCards(stats, now);
    renderOps(stats, now);
    renderTotals(stats);
    renderBundle(stats);
    renderFleet(stats);
    draw(stats, now);
    if (Date.now() - titlesAt >= TITLES_EVERY_MS) {
      titlesAt = Date.now();
      await refreshTitles();
    }
    failures = 0;
    $('banner').hidden = true;
    refreshes++;
    document.body.dataset.refreshes = String(refreshes);
    document.body.dataset.statsAt = String(stats.atMs);
  } catch (e) {
    failures++;
    const banner = $('banner');
    banner.textContent = `The node does not answer (${e.message}); retrying.`;
    banner.hidden = false;
  }
  const wait = document.hidden ? HIDDEN_REFRESH_MS : Math.min(REFRESH_MS * 2 ** failures, 5000);
  timer = setTimeout(refresh, wait);
}

async function refreshTitles() {
  const filter = $('title-filter').value.trim();
  const query = /^\d+$/.test(filter) ? `?title=${filter}` : '?top=12';
  renderTitles(await getJson(`/dashboard/titles${query}`));
}

function say(state, message) {
  const status = $('action-status');
  status.dataset.state = state;
  status.textContent = message;
}

function setToken(value) {
  token = value;
  const state = $('token-state');
  state.dataset.state = value ? 'set' : 'none';
  state.textContent = value ? 'token set (held in this page only)' : 'read-only';
}

/** A state-changing admin call with the token; the answer goes to the status line. */
async function adminCall(method, path, describe) {
  if (!token) {
    say('error', 'Enter the admin token first: actions need it, the view does not.');
    return null;
  }
  say('busy', '…');
  let response;
  try {
    response = await fetch(path, { method, headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch (e) {
    say('error', `The request failed: ${e.message}`);
    return null;
  }
  const body = await response.json().catch(() => null);
  if (response.status === 401) {
    setToken(null);
    $('token-state').dataset.state = 'refused';
    $('token-state').textContent = 'token refused';
    say('error', 'Refused: wrong admin token (401). Nothing was changed; enter the token again.');
    return null;
  }
  if (!response.ok) {
    say('error', `Refused (${response.status}): ${body?.error ?? response.statusText}`);
    return null;
  }
  say('ok', describe(body));
  refresh();
  return body;
}

function disarmRollback() {
  armedRollback = 0;
  $('rollback').classList.remove('armed');
}

function wire() {
  $('token-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = $('token');
    const value = input.value.trim();
    input.value = ''; // not left in the DOM
    if (!value) {
      setToken(null);
      return;
    }
    setToken(value);
    // Check it at once with a read-only admin call, so a wrong token is refused here and not at the first action.
    await adminCall('GET', '/v1/models', () => 'Token accepted.');
  });
  $('token-forget').addEventListener('click', () => {
    setToken(null);
    say('ok', 'Token forgotten.');
  });
  $('rollback').addEventListener('click', async () => {
    const button = $('rollback');
    if (!armedRollback) {
      // Two clicks: the first arms the button for five seconds, the second rolls back.
      armedRollback = setTimeout(() => {
        disarmRollback();
        refresh();
      }, 5000);
      button.classList.add('armed');
      button.textContent = `Confirm: roll back to ${button.textContent.replace(/^Roll back to /, '')}`;
      return;
    }
    clearTimeout(armedRollback);
    disarmRollback();
    await adminCall('POST', '/v1/models/rollback', (b) => `Rolled back: now serving version ${b.version} (${count(b.titles)} titles).`);
  });
  $('checkpoint').addEventListener('click', () =>
    adminCall('POST', '/v1/checkpoint', (b) => `Checkpoint done in ${count(b.durationMs)} ms: stores checkpointed, logs committed.`),
  );
  $('title-filter').addEventListener('change', () => {
    titlesAt = 0;
    refresh();
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refresh();
  });
}

wire();
setToken(null);
refresh();
