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
