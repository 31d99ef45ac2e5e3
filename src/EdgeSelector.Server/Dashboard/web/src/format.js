// How numbers look on the page.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** An exact count with thousands separators (the totals: compared with /metrics digit for digit). */
export function count(n) {
  return integer.format(n);
}

/** A rate or size with a k/M/G suffix and three significant digits. */
export function compact(n) {
  if (n == null || !Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs >= 1e9) return (n / 1e9).toPrecision(3) + 'G';
  if (abs >= 1e6) return (n / 1e6).toPrecision(3) + 'M';
  if (abs >= 1e3) return (n / 1e3).toPrecision(3) + 'k';
  if (abs === 0) return '0';
  return abs >= 10 ? n.toFixed(0) : n.toPrecision(2);
}

/** Bytes in binary units. */
export function bytes(n) {
  if (n == null || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n.toFixed(0) : n.toFixed(n >= 100 ? 0 : 1)) + ' ' + units[i];
}

/** Microseconds, switching to ms past 10,000. */
export function micros(n) {
  if (n == null || !Number.isFinite(n)) return '–';
  if (n >= 10_000) return (n / 1000).toFixed(n >= 100_000 ? 0 : 1) + ' ms';
  return n.toFixed(n >= 100 ? 0 : 1) + ' µs';
}

/** A share 0..1 as a percentage. */
export function percent(x) {
  return (x * 100).toFixed(x >= 0.1 ? 0 : 1) + '%';
}

/** "12 s ago", "3 min ago", from unix ms and the node's clock now. */
export function ago(ms, nowMs) {
  if (!ms) return '–';
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** Local date and time of unix ms. */
export function when(ms) {
  if (!ms) return '–';
  const d = new Date(ms);
  const pad = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
