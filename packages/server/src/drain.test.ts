import { describe, expect, it } from 'vitest';
import { batchRange, drainPlan, MIN_BATCH_INTERVAL, MIN_BATCH_SIZE } from './drain.js';

const sizes = (batches: number, clients: number): number[] =>
  Array.from({ length: batches }, (_, i) => {
    const [from, to] = batchRange(i, batches, clients);
    return to - from;
  });

describe('drainPlan', () => {
  it('spreads 200 clients over 1.5 s in 16 batches 100 ms apart', () => {
    const plan = drainPlan(200, { deadline: 6_000, delay: 1_000, spread: 1_500 });
    expect(plan).toEqual({ delay: 1_000, spread: 1_500, batches: 16, interval: 100 });
    const s = sizes(plan.batches, 200);
    expect(s.reduce((a, b) => a + b, 0)).toBe(200);
    expect(Math.min(...s)).toBe(12);
    expect(Math.max(...s)).toBe(13);
  });

  it('with the tether serve defaults, drains 10 000 clients in 101 batches over 10 s', () => {
    const plan = drainPlan(10_000, { deadline: 25_000, delay: 5_000, spread: 10_000 });
    expect(plan).toEqual({ delay: 5_000, spread: 10_000, batches: 101, interval: 100 });
    const s = sizes(plan.batches, 10_000);
    expect(s.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
  });

  it('closes a few clients in one batch at once, a dozen in two at either end of the spread', () => {
    expect(drainPlan(MIN_BATCH_SIZE, { deadline: 25_000, delay: 0, spread: 10_000 })).toEqual({
      delay: 0,
      spread: 10_000,
      batches: 1,
      interval: 0,
    });
    const plan = drainPlan(12, { deadline: 25_000, delay: 0, spread: 10_000 });
    expect(plan.batches).toBe(2);
    expect(plan.interval).toBe(10_000);
    expect(sizes(2, 12)).toEqual([6, 6]);
  });

  it('never puts batches closer than the minimum interval', () => {
    const plan = drainPlan(1_000, { deadline: 10_000, delay: 0, spread: 250 });
    expect(plan.batches).toBe(3);
    expect(plan.interval).toBe(125);
    expect(plan.interval).toBeGreaterThanOrEqual(MIN_BATCH_INTERVAL);
    expect(drainPlan(1_000, { deadline: 10_000, delay: 0, spread: 0 })).toMatchObject({ batches: 1, interval: 0 });
  });

  it('shortens the delay to half the deadline and the spread to half of the rest', () => {
    expect(drainPlan(500, { deadline: 4_000, delay: 5_000, spread: 10_000 })).toEqual({
      delay: 2_000,
      spread: 1_000,
      batches: 11,
      interval: 100,
    });
    expect(drainPlan(500, { deadline: 25_000, delay: 5_000, spread: 30_000 }).spread).toBe(10_000);
  });

  it('has no batches without clients', () => {
    expect(drainPlan(0, { deadline: 1_000, delay: 300, spread: 1_000 })).toEqual({
      delay: 300,
      spread: 350,
      batches: 0,
      interval: 0,
    });
  });
});

describe('batchRange', () => {
  it('covers every client once, in order', () => {
    const covered: number[] = [];
    for (let i = 0; i < 7; i++) {
      const [from, to] = batchRange(i, 7, 45);
      for (let k = from; k < to; k++) covered.push(k);
    }
    expect(covered).toEqual(Array.from({ length: 45 }, (_, k) => k));
  });
});
