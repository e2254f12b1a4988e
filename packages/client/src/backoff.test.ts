import { describe, expect, it } from 'vitest';
import { backoff, DEFAULT_RECONNECT, LONG_BACKOFF_SHIFT, reconnectDelay } from './backoff.js';

const o = { ...DEFAULT_RECONNECT, minDelay: 500, maxDelay: 30_000, factor: 2, jitter: 0.5 };

describe('backoff', () => {
  it('grows exponentially from minDelay (no jitter at random() = 0)', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoff(n, o, () => 0))).toEqual([500, 1000, 2000, 4000, 8000, 16_000]);
  });

  it('caps at maxDelay before jitter, so delays at the cap still vary', () => {
    expect(backoff(7, o, () => 0)).toBe(30_000);
    expect(backoff(50, o, () => 0)).toBe(30_000);
    expect(backoff(50, o, () => 0.5)).toBe(22_500);
    expect(backoff(50, o, () => 0.999_999)).toBeCloseTo(15_000, 0);
  });

  it('keeps jitter within (1 - jitter) .. 1 of the base', () => {
    for (let n = 1; n < 12; n++) {
      const base = Math.min(30_000, 500 * 2 ** (n - 1));
      for (let i = 0; i < 50; i++) {
        const d = backoff(n, o);
        expect(d).toBeGreaterThan(base * 0.5 - 1e-9);
        expect(d).toBeLessThanOrEqual(base);
      }
    }
  });

  it('quick: full jitter within minDelay; long: the backoff from a higher floor', () => {
    expect(reconnectDelay('quick', 9, o, () => 0.5)).toBe(250);
    expect(reconnectDelay('quick', 1, o, () => 0)).toBe(0);
    expect(reconnectDelay('normal', 2, o, () => 0)).toBe(1000);
    expect(reconnectDelay('long', 1, o, () => 0)).toBe(500 * 2 ** LONG_BACKOFF_SHIFT);
    expect(reconnectDelay('long', 20, o, () => 0)).toBe(30_000);
  });
});
