/**
 * Numbers for people: counts with thousands separators, rates with one decimal below 10,
 * bytes in binary units, durations as the largest two units.
 * @module
 */
const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function count(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n !== 0 && Math.abs(n) < 10) return n.toFixed(1).replace(/\.0$/, '');
  return int.format(n);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? Math.round(v) : v.toFixed(v < 10 ? 1 : 0)} ${UNITS[u]}`;
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1) return `${Math.round(n * 1000)} µs`;
  if (n < 100) return `${n.toFixed(1)} ms`;
  return `${int.format(n)} ms`;
}

/** How long ago `since` (ms since the epoch) was, e.g. `3m 12s`, `2h 05m`. */
export function age(since: number, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - since) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `time` as HH:MM:SS in the viewer's zone. */
export function clock(time: number): string {
  return new Date(time).toLocaleTimeString('en-GB', { hour12: false });
}

/** The short form of a node id: `host-pid-abc123` → `host-pid`. */
export function shortNode(id: string): string {
  return id.replace(/-[0-9a-f]{6}$/, '');
}
