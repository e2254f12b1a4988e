/**
 * The admin figures come from the server's Prometheus metrics — the same objects `/metrics`
 * renders, so there is no second bookkeeping: totals are the counters' values, rates the
 * difference between two readings, latency percentiles the difference between two readings of
 * the publish-latency histogram's buckets.
 * @module
 */
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { ServerMetrics } from '../metrics.js';
import type { AdminLatency, AdminRates, AdminTotals } from './types.js';

/** One reading of the metrics. */
export interface Reading {
  at: number;
  connections: number;
  subscriptions: number;
  totals: AdminTotals;
  /** The latency histogram: upper bounds in seconds (the last is +Inf) and cumulative counts. */
  bounds: number[];
  cumulative: number[];
}

const SLOW_CONSUMER = '4009';

async function sum(metric: Counter<string> | Gauge<string>): Promise<number> {
  const { values } = await metric.get();
  let total = 0;
  for (const v of values) total += v.value;
  return total;
}

async function byLabel(metric: Counter<string>, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metric.get()).values) {
    const key = String(v.labels[label] ?? '');
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

async function buckets(h: Histogram<string>): Promise<{ bounds: number[]; cumulative: number[] }> {
  const bounds: number[] = [];
  const cumulative: number[] = [];
  for (const v of (await h.get()).values) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels.le;
    bounds.push(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le));
    cumulative.push(v.value);
  }
  return { bounds, cumulative };
}

/** Reads every figure the dashboard shows from `m`. */
export async function read(m: ServerMetrics): Promise<Reading> {
  const [connections, subscriptions, accepted, publications, deliveries, framesIn, framesOut, bytesIn, bytesOut] =
    await Promise.all([
      sum(m.connections),
      sum(m.subscriptions),
      sum(m.connectionsTotal),
      sum(m.publications),
      sum(m.deliveries),
      sum(m.framesIn),
      sum(m.framesOut),
      sum(m.bytesIn),
      sum(m.bytesOut),
    ]);
  const [rateLimited, rejections, disconnects, latency] = await Promise.all([
    sum(m.rateLimited),
    sum(m.upgradeRejections),
    byLabel(m.disconnects, 'code'),
    buckets(m.publishLatency),
  ]);
  return {
    at: Date.now(),
    connections,
    subscriptions,
    totals: {
      connectionsAccepted: accepted,
      publications,
      deliveries,
      framesIn,
      framesOut,
      bytesIn,
      bytesOut,
      rateLimited,
      upgradeRejections: rejections,
      disconnects,
    },
    ...latency,
  };
}

const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/** Per-second rates between two readings. */
export function rates(prev: Reading, now: Reading): AdminRates {
  const seconds = Math.max(0.001, (now.at - prev.at) / 1000);
  const per = (a: number, b: number): number => Math.max(0, b - a) / seconds;
  const p = prev.totals;
  const n = now.totals;
  return {
    publicationsIn: per(p.publications, n.publications),
    publicationsOut: per(p.deliveries, n.deliveries),
    bytesIn: per(p.bytesIn, n.bytesIn),
    bytesOut: per(p.bytesOut, n.bytesOut),
    framesIn: per(p.framesIn, n.framesIn),
    framesOut: per(p.framesOut, n.framesOut),
    rateLimited: per(p.rateLimited, n.rateLimited),
    disconnects: per(total(p.disconnects), total(n.disconnects)),
    slowConsumers: per(p.disconnects[SLOW_CONSUMER] ?? 0, n.disconnects[SLOW_CONSUMER] ?? 0),
  };
}

/**
 * The `q` quantile (0..1) of a histogram given as bucket upper bounds and per-interval
 * cumulative counts, interpolated linearly inside its bucket (as Prometheus'
 * `histogram_quantile` does). Undefined when the interval saw nothing.
 */
export function quantile(q: number, bounds: readonly number[], cumulative: readonly number[]): number | undefined {
  const count = cumulative[cumulative.length - 1] ?? 0;
  if (count === 0) return undefined;
  const target = q * count;
  for (let i = 0; i < cumulative.length; i++) {
    const c = cumulative[i] as number;
    if (c < target) continue;
    const below = i === 0 ? 0 : (cumulative[i - 1] as number);
    const lower = i === 0 ? 0 : (bounds[i - 1] as number);
    const upper = bounds[i] as number;
    // Past the last finite bound there is nothing to interpolate towards.
    if (!Number.isFinite(upper)) return lower;
    return c === below ? upper : lower + ((upper - lower) * (target - below)) / (c - below);
  }
  return bounds[bounds.length - 2];
}

/** Latency percentiles (ms) of the publications measured between two readings. */
export function latency(prev: Reading, now: Reading): AdminLatency | null {
  if (prev.cumulative.length !== now.cumulative.length) return null;
  const delta = now.cumulative.map((c, i) => c - (prev.cumulative[i] as number));
  const count = delta[delta.length - 1] ?? 0;
  if (count <= 0) return null;
  const ms = (q: number): number => Math.round((quantile(q, now.bounds, delta) ?? 0) * 1e6) / 1e3;
  return { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), count };
}
