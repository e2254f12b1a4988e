/**
 * When the next attempt runs: the count of failed attempts in a row, the backoff timer, and the
 * browser's hints that cut the wait short (`online`, the tab visible again, `pageshow`) or hold
 * it (`offline`). While open, the same hints ask for a liveness probe instead. Runtimes without
 * `addEventListener` (Node) simply get no hints.
 * @module
 */
import type { BackoffClass } from '@tether/protocol';
import { reconnectDelay } from './backoff.js';
import type { ResolvedOptions } from './options.js';
import type { ClientState } from './state.js';

type GlobalScope = {
  addEventListener?: (type: string, fn: () => void) => void;
  removeEventListener?: (type: string, fn: () => void) => void;
  document?: { visibilityState?: string };
};

/** A welcomed connection that lasted this long (ms) resets the attempt count. */
export const HEALTHY_AFTER = 5000;

/** @internal */
export type Reconnect = ReturnType<typeof createReconnect>;

/**
 * @internal
 * @param attempt Starts the next connection attempt.
 * @param probe A hint while not reconnecting: verify the open connection.
 * @param state The client's state.
 * @param connecting An attempt is in flight (its socket exists).
 */
export function createReconnect(
  o: Pick<ResolvedOptions, 'reconnect' | 'random'>,
  attempt: () => void,
  probe: () => void,
  state: () => ClientState,
  connecting: () => boolean,
) {
  const g = globalThis as GlobalScope;
  let attempts = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let offline = false;
  let listening = false;

  const run = (): void => {
    timer = undefined;
    attempt();
  };
  /** Something changed for the better: attempt now instead of waiting out the backoff, or probe. */
  const hint = (): void => {
    if (state() !== 'reconnecting') probe();
    else if (timer && !offline) {
      clearTimeout(timer);
      run();
    }
  };
  const onVisible = (): void => {
    if (g.document?.visibilityState !== 'hidden') hint();
  };
  const events: Record<string, () => void> = {
    online() {
      offline = false;
      // Offline when the wait began, so no timer was set: start one now (the hint runs it).
      if (state() === 'reconnecting' && !timer && !connecting()) timer = setTimeout(run, 0);
      hint();
    },
    offline() {
      offline = true;
      // The id stays: `online` then attempts at once.
      clearTimeout(timer);
    },
    visibilitychange: onVisible,
    pageshow: onVisible,
  };

  return {
    /** Attaches (`on`: a fresh start, online and no failed attempts yet) or removes the hint listeners. */
    listen(on: boolean): void {
      if (on) {
        offline = false;
        attempts = 0;
      }
      const fn = on ? g.addEventListener : g.removeEventListener;
      if (!fn || listening === on) return;
      listening = on;
      for (const type in events) fn.call(g, type, events[type] as () => void);
    },
    /** `maxAttempts` is not reached yet. */
    allowed: (): boolean => attempts < o.reconnect.maxAttempts,
    /** A connection closed after being open `ms`: if that was long enough, the count starts again. */
    lasted(ms: number): void {
      if (ms >= HEALTHY_AFTER) attempts = 0;
    },
    /** Counts a failed attempt; returns its number and the delay before the next one. */
    next(backoff: BackoffClass): { attempt: number; delay: number } {
      attempts++;
      return { attempt: attempts, delay: reconnectDelay(backoff, attempts, o.reconnect, o.random) };
    },
    /** `client.reconnect()` while waiting: the next attempt runs now, offline or not. */
    now(): void {
      if (!connecting()) {
        clearTimeout(timer);
        run();
      }
    },
    /** Runs the next attempt after `delay`, unless offline (then `online` runs it). */
    wait(delay: number): void {
      if (!offline && !timer) timer = setTimeout(run, delay);
    },
    /** No attempt is due any more (the connection is being closed). */
    stop(): void {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
