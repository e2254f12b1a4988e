/**
 * Token bucket for per-connection message rate limits.
 * @module
 */

/** Refills `rate` tokens per second up to `burst`; each accepted message takes one. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Counts events in a fixed window and says when more than `max` happened within `windowMs`. */
export class WindowCounter {
  private count = 0;
  private start: number;

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.start = now();
  }

  /** Records one event; true when this one is over the limit. */
  hit(): boolean {
    const t = this.now();
    if (t - this.start >= this.windowMs) {
      this.start = t;
      this.count = 0;
    }
    this.count += 1;
    return this.count > this.max;
  }
}

/**
 * Counts failures per key (an address) in a fixed window: once a key has `max` of them, it is
 * blocked until its window ends. Holds at most `maxKeys` keys (the oldest window is dropped
 * first), so an attacker with many addresses cannot grow it without bound.
 */
export class FailureLimiter {
  /** In insertion order, which is window-start order: the first entry is always the oldest. */
  private readonly windows = new Map<string, { count: number; start: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it may try now. */
  retryAfter(key: string): number {
    const w = this.windows.get(key);
    if (!w) return 0;
    const left = w.start + this.windowMs - this.now();
    if (left <= 0) {
      this.windows.delete(key);
      return 0;
    }
    return w.count >= this.max ? left : 0;
  }

  /** Records one failure of `key`. */
  fail(key: string): void {
    const t = this.now();
    const w = this.windows.get(key);
    if (w && t - w.start < this.windowMs) {
      w.count += 1;
      return;
    }
    this.windows.delete(key);
    // Drop ended windows, and the oldest ones while full: they sit at the front.
    for (const [k, old] of this.windows) {
      if (t - old.start < this.windowMs && this.windows.size < this.maxKeys) break;
      this.windows.delete(k);
    }
    this.windows.set(key, { count: 1, start: t });
  }
}
