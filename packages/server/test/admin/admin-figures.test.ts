/**
 * The dashboard's arithmetic over two readings of the metrics: per-second rates, and latency
 * percentiles from histogram buckets interpolated the way Prometheus' histogram_quantile does.
 */
import { describe, expect, it } from 'vitest';
import { latency, quantile, type Reading, rates } from '../../src/admin/figures.js';

const totals = (over: Partial<Reading['totals']> = {}): Reading['totals'] => ({
  connectionsAccepted: 0,
  publications: 0,
  deliveries: 0,
  framesIn: 0,
  framesOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  rateLimited: 0,
  upgradeRejections: 0,
  disconnects: {},
  ...over,
});
const BOUNDS = [0.001, 0.01, 0.1, Number.POSITIVE_INFINITY];
const reading = (at: number, over: Partial<Reading['totals']>, cumulative = [0, 0, 0, 0]): Reading => ({
  at,
  connections: 0,
  subscriptions: 0,
  totals: totals(over),
  bounds: BOUNDS,
  cumulative,
});

describe('admin figures', () => {
  it('turns two readings into rates per second; a counter reset reads as 0, not negative', () => {
    const a = reading(10_000, { publications: 100, deliveries: 1_000, bytesOut: 5_000, disconnects: { '1000': 1 } });
    const b = reading(12_000, {
      publications: 160,
      deliveries: 1_000,
      bytesOut: 4_000,
      disconnects: { '1000': 3, '4009': 2 },
    });
    const r = rates(a, b);
    expect(r.publicationsIn).toBe(30);
    expect(r.publicationsOut).toBe(0);
    expect(r.bytesOut).toBe(0);
    expect(r.disconnects).toBe(2);
    expect(r.slowConsumers).toBe(1);
  });

  it('interpolates a quantile inside its bucket and stops at the last finite bound', () => {
    // 10 observations: 4 under 1 ms, 4 more under 10 ms, 2 more under 100 ms.
    const cumulative = [4, 8, 10, 10];
    expect(quantile(0.5, BOUNDS, cumulative)).toBeCloseTo(0.001 + 0.009 * (1 / 4), 10);
    expect(quantile(0.2, BOUNDS, cumulative)).toBeCloseTo(0.0005, 10);
    expect(quantile(0.99, BOUNDS, cumulative)).toBeCloseTo(0.01 + 0.09 * (1.9 / 2), 10);
    expect(quantile(0.99, BOUNDS, [0, 0, 0, 5])).toBe(0.1);
    expect(quantile(0.5, BOUNDS, [0, 0, 0, 0])).toBeUndefined();
  });

  it('measures latency over the interval only, in ms, and null when nothing was measured', () => {
    const a = reading(0, {}, [100, 100, 100, 100]);
    const b = reading(1_000, {}, [100, 110, 110, 110]);
    const l = latency(a, b);
    expect(l?.count).toBe(10);
    expect(l?.p50).toBeCloseTo(5.5, 3);
    expect(l?.p99).toBeCloseTo(9.91, 3);
    expect(latency(b, b)).toBeNull();
  });
});
