/**
 * Reconnect delays: a pure function of the attempt number, so tests can pin `random`.
 * @module
 */
import type { BackoffClass, Duration } from '@tether/protocol';

/** Resolved backoff settings (delays in ms), as {@link backoff} and {@link reconnectDelay} take them. */
export interface ReconnectOptions {
  /** First delay in ms. @default 500 */
  minDelay: number;
  /** Upper bound in ms, applied before jitter. @default 30000 */
  maxDelay: number;
  /** Growth per attempt. @default 2 */
  factor: number;
  /** Fraction of the delay removed at random (0 = none, 1 = full jitter). @default 0.5 */
  jitter: number;
  /** Failed attempts in a row before giving up (`connect()` then rejects). @default Infinity */
  maxAttempts: number;
}

/** The client's `reconnect` option: delays as ms or a `Duration` string such as `'500ms'`, `'30s'`. */
export interface ClientReconnectOptions {
  /** First delay. @default 500 */
  minDelay?: Duration;
  /** @deprecated Renamed `minDelay` (one spelling with the Redis broker's `reconnectDelay: { min, max }`). */
  initialDelay?: Duration;
  /** Upper bound, applied before jitter. @default 30000 */
  maxDelay?: Duration;
  /** Growth per attempt. @default 2 */
  factor?: number;
  /** Fraction of the delay removed at random (0 = none, 1 = full jitter). @default 0.5 */
  jitter?: number;
  /** Failed attempts in a row before giving up (`connect()` then rejects). @default Infinity */
  maxAttempts?: number;
}

export const DEFAULT_RECONNECT: Readonly<
  ReconnectOptions & {
    /** @deprecated Renamed `minDelay`. */
    initialDelay: number;
  }
> = {
  minDelay: 500,
  initialDelay: 500,
  maxDelay: 30_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
};

/** Attempts added for the `long` class (overload, rate limit): the backoff starts 8× higher. */
export const LONG_BACKOFF_SHIFT = 3;

/**
 * `min(maxDelay, minDelay · factor^(attempt−1)) × (1 − jitter · random())`.
 * The cap applies before jitter, so delays at the cap still vary and clients do not re-synchronise.
 */
export function backoff(attempt: number, o: ReconnectOptions, random: () => number = Math.random): number {
  return Math.min(o.maxDelay, o.minDelay * o.factor ** (attempt - 1)) * (1 - o.jitter * random());
}

/**
 * The delay for a backoff class from the close-code policy: `quick` is a full-jitter pause within
 * `minDelay` (a restarting server's clients spread out instead of stampeding), `normal` is
 * {@link backoff}, `long` is {@link backoff} shifted by {@link LONG_BACKOFF_SHIFT} attempts.
 */
export function reconnectDelay(
  cls: BackoffClass,
  attempt: number,
  o: ReconnectOptions,
  random: () => number = Math.random,
): number {
  if (cls === 'quick') return Math.min(o.minDelay, o.maxDelay) * random();
  return backoff(cls === 'long' ? attempt + LONG_BACKOFF_SHIFT : attempt, o, random);
}
