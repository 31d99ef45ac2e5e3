// The page's panels, drawn from a /dashboard/stats snapshot (and the rates main.js derived from two of them).
import { $, fill, h } from './dom.js';
import { ago, bytes, compact, count, micros, percent, when } from './format.js';

/** The big numbers at the top. `now` holds the derived rates and percentiles (null before the second snapshot). */
export function renderCards(stats, now) {
  const topReason = Object.entries(now?.fallbackRates ?? {}).sort((a, b) => b[1] - a[1])[0];
  const card = (id, label, value, detail) =>
    h('div', { class: 'card', id: `card-${id}` }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), h('div', { class: 'detail' }, detail));
  const active = stats.bundle.active;
  fill(
    $('cards'),
    card('requests', 'requests/s', compact(now?.requestRate), `${count(stats.requests.reduce((s, o) => s + o.total, 0))} total`),
    card('selections', 'selections/s', compact(now?.selectionRate), `${count(stats.selections)} total`),
    card('latency', 'latency p50 / p99', now ? `${micros(now.p50)} / ${micros(now.p99)}` : '–', 'all requests, last 5 s'),
    card('fallbacks', 'fallbacks/s', compact(now?.fallbackRate), topReason && topReason[1] > 0 ? `mostly ${topReason[0]}` : 'none now'),
    card('connections', 'open connections', count(stats.connections.open), `${count(stats.connections.accepted)} accepted, ${count(stats.connections.rejected)} rejected`),
    card(
      'impression-lag',
      'impression log lag',
      stats.impressionLog.enabled ? bytes(stats.impressionLog.lagBytes) : 'off',
      stats.impressionLog.enabled ? `${count(stats.impressionLog.dropped)} dropped, ${bytes(stats.impressionLog.bytes)} held` : 'LogImpressions=false',
    ),
    card('reward-lag', 'reward log lag', bytes(stats.rewardLog.lagBytes), `${count(stats.rewardLog.appended)} rewards logged`),
    card('memory', 'memory (working set)', bytes(stats.memory.workingSetBytes), `GC heap ${bytes(stats.memory.gcHeapBytes)}, ${count(stats.memory.gcCollections[2])} gen-2 GCs`),
    card('bundle', 'model bundle', `v${stats.bundle.activeVersion}`, active ? `applied ${ago(active.appliedAtMs, stats.atMs)}` : `${count(stats.bundle.titles)} titles`),
  );
}

/** Every counter of /metrics the page knows, under its exact series name (data-metric), as an exact integer. */
export function renderTotals(stats) {
  const rows = [];
  const row = (metric, kind, value) =>
    rows.push(h('tr', null, h('th', { scope: 'row' }, metric), h('td', { 'data-metric': metric, 'data-kind': kind }, count(value))));
  for (const op of stats.requests) row(`edgeselector_requests_total{op="${op.op}"}`, 'counter', op.total);
  row('edgeselector_selections_total', 'counter', stats.selections);
  for (const [reason, n] of Object.entries(stats.fallbacks)) row(`edgeselector_fallbacks_total{reason="${reason}"}`, 'counter', n);
  for (const [status, n] of Object.entries(stats.rewards)) row(`edgeselector_rewards_total{status="${status}"}`, 'counter', n);
  row('edgeselector_protocol_errors_total', 'counter', stats.protocolErrors);
  row('edgeselector_in_flight_requests', 'gauge', stats.inFlight);
  for (const l of stats.connections.listeners) {
    row(`edgeselector_connections{listener="${l.listener}"}`, 'gauge', l.open);
    row(`edgeselector_connections_total{listener="${l.listener}"}`, 'counter', l.accepted);
    row(`edgeselector_connections_rejected_total{listener="${l.listener}"}`, 'counter', l.rejected);
  }
  row('edgeselector_models', 'gauge', stats.bundle.titles);
  row('edgeselector_model_bundle_version{which="active"}', 'gauge', stats.bundle.activeVersion);
  row('edgeselector_model_bundle_version{which="previous"}', 'gauge', stats.bundle.previousVersion);
  row('edgeselector_impressions_total{result="logged"}', 'counter', stats.impressionLog.appended);
  row('edgeselector_impressions_total{result="dropped"}', 'counter', stats.impressionLog.dropped);
  row('edgeselector_impression_log_lag_bytes', 'gauge', stats.impressionLog.lagBytes);
  // The runtime's own series (System.Runtime meter): collections of exactly that generation, so a gen-1 collection is
  // not counted under gen0 too (gcCollections[g] is GC.CollectionCount(g), which counts every collection of g or higher).
  const gc = stats.memory.gcCollections;
  gc.forEach((n, g) => row(`dotnet_gc_collections_total{gc_heap_generation="gen${g}"}`, 'counter', n - (gc[g + 1] ?? 0)));
  row('dotnet_gc_heap_total_allocated_bytes_total', 'counter', stats.memory.allocatedBytes);
  fill($('totals-table').tBodies[0], rows);
}

/** Per-op rate and windowed percentiles. */
export function renderOps(stats, now) {
  fill(
    $('ops-table').tBodies[0],
    stats.requests.map((op) => {
      const o = now?.ops?.[op.op];
      return h('tr', null, h('th', { scope: 'row' }, op.op), h('td', null, compact(o?.rate)), h('td', null, micros(o?.p50)), h('td', null, micros(o?.p99)), h('td', null, count(op.total)));
    }),
  );
}

/** The active bundle, its history, and whether a rollback has somewhere to go. */
export function renderBundle(stats) {
  const b = stats.bundle;
  const a = b.active;
  const fact = (term, value, attrs) => [h('dt', null, term), h('dd', attrs ?? null, value)];
  const active = $('bundle-active');
  active.dataset.version = String(b.activeVersion);
  fill(
    active,
    fact('serving', `version ${b.activeVersion}`, { id: 'active-version', 'data-version': b.activeVersion }),
    fact('rollback goes to', b.previousVersion ? `version ${b.previousVersion}` : 'nothing (no previous bundle)'),
    fact('titles', count(b.titles)),
    fact('applied', a ? `${when(a.appliedAtMs)} (${ago(a.appliedAtMs, stats.atMs)})` : '– (applied before this node kept a history)'),
    fact('created', a ? when(a.createdAtMs) : '–'),
    fact('kind', a ? (a.full ? 'full' : `partial over ${a.parentVersion}`) : '–'),
    fact('signed by', a ? (a.keyId ? `key "${a.keyId}"` : 'built-in catalog (not pushed)') : '–'),
    fact('sha-256', a?.sha256 ? h('code', { title: a.sha256 }, a.sha256) : '–'),
    a?.trainingToMs ? fact('trained on', `${when(a.trainingFromMs)} – ${when(a.trainingToMs)}`) : null,
  );
  fill(
    $('bundle-history').tBodies[0],
    [...b.history].reverse().map((e) =>
      h(
        'tr',
        { class: e.version === b.activeVersion ? 'active' : null, 'data-version': e.version },
        h('td', null, `v${e.version}`, e.version === b.activeVersion ? ' (serving)' : null),
        h('td', null, e.parentVersion ? `v${e.parentVersion}` : '–'),
        h('td', null, when(e.appliedAtMs)),
        h('td', null, when(e.createdAtMs)),
        h('td', null, e.full ? 'full' : 'partial'),
        h('td', null, count(e.titles)),
        h('td', null, e.keyId || 'built-in'),
        h('td', null, e.sha256 ? h('code', { title: e.sha256 }, e.sha256.slice(0, 12) + '…') : '–'),
      ),
    ),
  );
}

/** The fleet table, shown only when the node reports a fleet section. */
export function renderFleet(stats) {
  const section = $('fleet');
  const fleet = stats.fleet;
  section.hidden = !fleet;
  if (!fleet) return;
  const stale = 3 * (fleet.heartbeatIntervalMs || 5000);
  const pointer = fleet.pointer;
  fill(
    $('fleet-summary'),
    `${fleet.nodes.length} node${fleet.nodes.length === 1 ? '' : 's'}`,
    pointer ? ` · pointer: version ${pointer.version} (${pointer.sha256.slice(0, 12)}…), set ${ago(pointer.pointedAtMs, stats.atMs)}` : ' · no bundle pointer set',
    fleet.error ? h('span', { class: 'bad' }, ` · ${fleet.error}`) : null,
  );
  fill(
    $('fleet-nodes').tBodies[0],
    fleet.nodes.map((n) => {
      const age = stats.atMs - n.heartbeatAtMs;
      const behind = pointer && n.appliedVersion !== pointer.version;
      return h(
        'tr',
        { 'data-node-id': n.nodeId, class: n.nodeId === fleet.self ? 'active' : null },
        h('td', null, String(n.nodeId), n.nodeId === fleet.self ? ' (this node)' : null),
        h('td', null, n.instance),
        h('td', { class: n.ready ? 'good' : 'bad' }, n.ready ? 'ready' : 'not ready'),
        h('td', { class: behind ? 'bad' : null }, `v${n.appliedVersion}`),
        h('td', null, `v${n.pointerVersion}`),
        h('td', { class: age > stale ? 'bad' : null }, ago(n.heartbeatAtMs, stats.atMs)),
        h('td', null, bytes(n.impressionLagBytes)),
        h('td', null, bytes(n.rewardLagBytes)),
        h('td', { class: 'bad' }, [n.bundleError, n.shippingError].filter(Boolean).join('; ')),
      );
    }),
  );
}

/** The per-title sample: each title's candidate images, their share of the model's choices and logged propensities. */
export function renderTitles(sample) {
  if (!sample.enabled) {
    fill($('titles-summary'), 'The node keeps no impression log (LogImpressions=false): nothing to sample. ');
    fill($('titles-list'));
    return;
  }
  const span = sample.toMs > sample.fromMs ? ` over ${((sample.toMs - sample.fromMs) / 1000).toFixed(1)} s` : '';
  fill($('titles-summary'), `${count(sample.decisions)} recent decisions read back from the impression log${span}. `);
  fill(
    $('titles-list'),
    sample.titles.map((t) =>
      h(
        'div',
        { class: 'title', 'data-title-id': t.titleId },
        h(
          'h3',
          null,
          `title ${t.titleId}`,
          h('span', { class: 'muted' }, ` · ${count(t.decisions)} decisions · ${count(t.fallbacks)} fallbacks · model v${t.modelVersion}`),
        ),
        t.images.length === 0
          ? h('p', { class: 'muted' }, 'no model for this title in the active bundle')
          : h(
              'table',
              { class: 'images' },
              h('thead', null, h('tr', null, h('th', null, 'image'), h('th', null, 'share of choices'), h('th', null, 'propensity (min–max)'), h('th', null, 'chosen'))),
              h(
                'tbody',
                null,
                t.images.map((img) =>
                  h(
                    'tr',
                    { 'data-image-id': img.imageId, 'data-share': img.share, 'data-propensity': img.meanPropensity, class: img.inModel ? null : 'muted' },
                    h('td', null, String(img.imageId), img.imageId === t.defaultImageId ? ' (default)' : null, img.inModel ? null : ' (not in model)'),
                    h('td', null, h('span', { class: 'bar' }, h('span', { style: { width: `${(img.share * 100).toFixed(1)}%` } })), ' ', percent(img.share)),
                    h('td', null, img.decisions ? `${img.meanPropensity.toFixed(3)} (${img.minPropensity.toFixed(3)}–${img.maxPropensity.toFixed(3)})` : '–'),
                    h('td', null, count(img.decisions)),
                  ),
                ),
              ),
            ),
      ),
    ),
  );
}
