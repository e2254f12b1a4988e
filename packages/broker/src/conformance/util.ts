/**
 * What the conformance suites share: the factory context, the options, an event recorder and a
 * bounded wait.
 * @module
 */
import type { PresenceClient } from '@tether/protocol';
import { describe, it } from 'vitest';
import type { BrokerEvents, BrokerPublishOptions, Publication } from '../broker.js';
import type { PresenceEvents } from '../presence.js';

/** What the suite hands to the factory. */
export interface ConformanceContext {
  /** The suite's clock. An implementation that accepts a clock should use it (`clock: 'injected'`). */
  now: () => number;
}

export interface ConformanceOptions {
  /**
   * `injected`: the implementation reads time from `context.now`, and the suite moves time by hand.
   * `real`: it keeps its own clock (e.g. Redis `TIME`); the suite uses short TTLs and waits, with
   * a bound, for expiry to show.
   * @default 'injected'
   */
  clock?: 'injected' | 'real';
  /** Skip the whole suite, printing this reason (e.g. "Redis unreachable at …"). @default undefined */
  skip?: string;
  /** How long to wait for an event or an expiry before failing, in ms. @default 3000 */
  timeout?: number;
  /**
   * Everything made by one factory shares its store, as nodes of one cluster do (Redis); adds the
   * cross-node checks (global offsets, delivery and dedup across brokers; shared presence).
   * @default false
   */
  shared?: boolean;
}

/** Records everything a broker and a presence store report, with bounded waits on it. */
export interface EventRecorder extends BrokerEvents, PresenceEvents {
  publications: Publication[];
  joins: Array<{ channel: string; client: PresenceClient }>;
  leaves: Array<{ channel: string; client: PresenceClient }>;
  availability: (up: boolean) => void;
  availabilityChanges: boolean[];
}

/** An event sink for a broker or presence store under test that keeps every event in arrays. */
export function recordEvents(): EventRecorder {
  const recorder: EventRecorder = {
    publications: [],
    joins: [],
    leaves: [],
    availabilityChanges: [],
    publication: (p) => {
      recorder.publications.push(p);
    },
    join: (channel, client) => {
      recorder.joins.push({ channel, client });
    },
    leave: (channel, client) => {
      recorder.leaves.push({ channel, client });
    },
    availability: (up) => {
      recorder.availabilityChanges.push(up);
    },
  };
  return recorder;
}

/**
 * Polls `check` until it returns a truthy value or `timeout` ms pass; resolves to that value.
 * A bounded wait on a condition, never a sleep standing in for synchronisation.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeout = 3000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const suffix = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${suffix}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const opts = (over: Partial<BrokerPublishOptions> = {}): BrokerPublishOptions => ({
  historySize: 100,
  historyTtl: 60_000,
  dedupTtl: 60_000,
  ...over,
});

let serial = 0;
/** A name no other test (or earlier run against a shared store) has used. */
export const fresh = (ns = 'test'): string =>
  `${ns}:${Date.now().toString(36)}${process.pid.toString(36)}${(serial++).toString(36)}`;

/** Settings derived from the options, the same for both suites. */
export function settings(options: ConformanceOptions): { injected: boolean; timeout: number; shortTtl: number } {
  const injected = (options.clock ?? 'injected') === 'injected';
  // Short enough to wait out on a real clock, long enough that a check made right after a write
  // still falls inside it on a loaded machine.
  return { injected, timeout: options.timeout ?? 3000, shortTtl: injected ? 1000 : 600 };
}

/** Registers a skipped block naming the reason when `options.skip` is set; true when it did. */
export function skipped(title: string, options: ConformanceOptions): boolean {
  if (options.skip === undefined) return false;
  describe.skip(`${title} (skipped: ${options.skip})`, () => {
    it('runs', () => {});
  });
  return true;
}

/** The suite's clock: injected time moves only by `advance`; a real clock moves by itself. */
export function suiteClock(injected: boolean): { now: () => number; advance: (ms: number) => void; reset: () => void } {
  const start = 1_700_000_000_000;
  let time = start;
  return {
    now: () => (injected ? time : Date.now()),
    // On a real clock time moves by itself and callers wait for the effect.
    advance: (ms) => {
      if (injected) time += ms;
    },
    reset: () => {
      time = start;
    },
  };
}
