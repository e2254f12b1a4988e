/**
 * The presence conformance suite: join once, leave once, refresh, expiry, list and its pages — the same checks
 * for every `PresenceStore`, on its own or as the `presence` of the broker it belongs to.
 * @module
 */
import type { PresenceClient } from '@tether/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broker } from '../broker.js';
import type { PresenceStore } from '../presence.js';
import {
  type ConformanceContext,
  type ConformanceOptions,
  type EventRecorder,
  fresh,
  recordEvents,
  settings,
  skipped,
  suiteClock,
  waitFor,
} from './util.js';

/** A presence store under test, with the broker it belongs to when it has one. */
export interface PresenceUnderTest {
  presence: PresenceStore;
  /**
   * The broker whose `presence` the store is (Redis), or none (memory). When given, the suite
   * starts it before the store, closes it after, and subscribes it to every channel a test
   * watches: a store only promises events for channels its broker subscribed to.
   */
  broker?: Broker;
}

/** Builds a fresh, not yet started presence store (and its broker) for one test. */
export type MakePresence = (context: ConformanceContext) => PresenceUnderTest | Promise<PresenceUnderTest>;

/** The options of `runPresenceConformance`; `shared: true` adds the check that nodes see each other's presence. */
export type PresenceConformanceOptions = ConformanceOptions;

interface Node extends PresenceUnderTest {
  events: EventRecorder;
}

const client = (n: number, info?: unknown): PresenceClient =>
  info === undefined ? { user: `u${n}`, connectionId: `c${n}` } : { user: `u${n}`, connectionId: `c${n}`, info };

/**
 * Registers a Vitest `describe` block that checks `makePresence`'s stores against the
 * `PresenceStore` contract: join and leave once each, refresh, expiry with a leave, list.
 * @example
 * ```ts
 * runPresenceConformance('memory', ({ now }) => ({ presence: createMemoryPresence({ now }) }));
 * runPresenceConformance('redis', () => {
 *   const broker = createRedisBroker({ prefix });
 *   return { broker, presence: broker.presence };
 * }, { clock: 'real', shared: true });
 * ```
 */
export function runPresenceConformance(
  name: string,
  makePresence: MakePresence,
  options: PresenceConformanceOptions = {},
): void {
  const { injected, timeout, shortTtl } = settings(options);
  const title = `presence conformance: ${name}`;
  if (skipped(title, options)) return;

  describe(title, () => {
    const { now, advance, reset } = suiteClock(injected);
    let node: Node;
    let presence: PresenceStore;
    let events: EventRecorder;
    const opened: Node[] = [];

    const open = async (): Promise<Node> => {
      const made = await makePresence({ now });
      const n: Node = { ...made, events: recordEvents() };
      opened.push(n);
      await n.broker?.start(n.events);
      await n.presence.start(n.events);
      return n;
    };

    /** Makes sure `n` hears about `channel`: its broker (if any) subscribes to it. */
    const watch = async (n: Node, channel: string): Promise<void> => {
      await n.broker?.subscribe(channel);
    };

    /**
     * Adds and removes a marker entry on a watched channel and waits for both events: every event
     * announced before them has arrived. The marker's events are then dropped from the record.
     */
    const barrier = async (n: Node): Promise<void> => {
      const ch = fresh('barrier');
      const marker = { user: 'barrier', connectionId: ch };
      await watch(n, ch);
      await n.presence.add(ch, marker, 60_000);
      await waitFor(() => n.events.joins.some((j) => j.channel === ch), timeout, 'the barrier join');
      await n.presence.remove(ch, marker);
      await waitFor(() => n.events.leaves.some((l) => l.channel === ch), timeout, 'the barrier leave');
      await n.broker?.unsubscribe(ch);
      for (const list of [n.events.joins, n.events.leaves])
        list.splice(0, list.length, ...list.filter((e) => e.channel !== ch));
    };

    beforeEach(async () => {
      reset();
      node = await open();
      ({ presence, events } = node);
    });

    afterEach(async () => {
      for (const n of opened.splice(0)) {
        await n.presence.close();
        await n.broker?.close();
      }
    });

    it('adds, refreshes, lists and removes entries with join and leave events', async () => {
      const ch = fresh();
      await watch(node, ch);
      await presence.add(ch, client(1, { name: 'Ann' }), 60_000);
      await presence.add(ch, client(2), 60_000);
      await presence.add(ch, client(1, { name: 'Ann' }), 60_000);
      const listed = await presence.list(ch);
      expect(listed.sort((a, b) => a.connectionId.localeCompare(b.connectionId))).toEqual([
        client(1, { name: 'Ann' }),
        client(2),
      ]);
      await waitFor(() => events.joins.length >= 2, timeout, 'two joins');
      await presence.remove(ch, client(1));
      await presence.remove(ch, client(1));
      await waitFor(() => events.leaves.length >= 1, timeout, 'a leave');
      await barrier(node);
      expect(events.joins.map((j) => [j.channel, j.client.connectionId])).toEqual([
        [ch, 'c1'],
        [ch, 'c2'],
      ]);
      expect(events.joins[0]?.client).toEqual(client(1, { name: 'Ann' }));
      expect(events.leaves.map((l) => [l.channel, l.client.connectionId, l.client.user])).toEqual([[ch, 'c1', 'u1']]);
      expect(await presence.list(ch)).toEqual([client(2)]);
      expect(await presence.list(fresh())).toEqual([]);
    });

    it('expires entries that are not refreshed, with a leave event', async () => {
      const ch = fresh();
      await watch(node, ch);
      await presence.add(ch, client(1), shortTtl);
      await presence.add(ch, client(2), 60_000);
      expect((await presence.list(ch)).length).toBe(2);
      advance(shortTtl + 1);
      await waitFor(
        async () => (await presence.list(ch)).map((c) => c.connectionId).join() === 'c2',
        timeout + shortTtl,
        'the entry to expire',
      );
      await waitFor(() => events.leaves.length === 1, timeout, 'the leave event');
      expect(events.leaves[0]).toEqual({ channel: ch, client: client(1) });
    });

    it('keeps an entry alive while it is refreshed', async () => {
      const ch = fresh();
      await presence.add(ch, client(1), shortTtl);
      advance(shortTtl / 2);
      await presence.add(ch, client(1), shortTtl * 4);
      advance(shortTtl / 2 + 1);
      expect((await presence.list(ch)).map((c) => c.connectionId)).toEqual(['c1']);
    });

    /** Follows pages of `limit` from the first; `between` runs after each page (churn). */
    const walk = async (ch: string, limit: number, between?: (page: number) => Promise<void>): Promise<string[]> => {
      const seen: string[] = [];
      for (let n = 0, after: string | undefined; ; n++) {
        const page = await presence.list(ch, after === undefined ? { limit } : { after, limit });
        expect(page.length).toBeLessThanOrEqual(limit);
        seen.push(...page.map((c) => c.connectionId));
        if (page.length < limit) return seen;
        if (n > 1000) throw new Error('the walk does not end: is `after` ignored?');
        after = page[page.length - 1]?.connectionId;
        await between?.(n);
      }
    };
    const ascending = (ids: string[]): string[] => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

    it('lists in connectionId order, a page at a time from after the given id', async () => {
      const ch = fresh();
      const ids = Array.from({ length: 25 }, (_, i) => `c${(i * 7) % 25}`);
      for (const id of ids) await presence.add(ch, { user: 'u', connectionId: id }, 60_000);
      const all = (await presence.list(ch)).map((c) => c.connectionId);
      expect(all).toEqual(ascending(ids));
      expect(await walk(ch, 7)).toEqual(all);
      expect(await walk(ch, 25)).toEqual(all);
      expect((await presence.list(ch, { after: 'c5', limit: 3 })).map((c) => c.connectionId)).toEqual([
        'c6',
        'c7',
        'c8',
      ]);
      // `after` need not be present: it is a position in the order.
      expect((await presence.list(ch, { after: 'c15x', limit: 2 })).map((c) => c.connectionId)).toEqual(['c16', 'c17']);
      expect(await presence.list(ch, { after: 'c9' })).toEqual([]);
      expect(await presence.list(ch, { after: 'c', limit: 1 })).toEqual([{ user: 'u', connectionId: 'c0' }]);
    });

    it('returns no entry twice in a walk under churn, and every entry present throughout', async () => {
      const ch = fresh();
      const stay = Array.from({ length: 40 }, (_, i) => `s${String(i).padStart(2, '0')}`);
      const churn = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(2, '0')}x`);
      for (const id of [...stay, ...churn]) await presence.add(ch, { user: 'u', connectionId: id }, 60_000);
      const ever = new Set([...stay, ...churn]);
      const seen = await walk(ch, 6, async (n) => {
        // Leave and join on both sides of the cursor; refresh and re-add stable entries.
        await presence.remove(ch, { user: 'u', connectionId: churn[n] as string });
        await presence.remove(ch, { user: 'u', connectionId: churn[19 - n] as string });
        for (const id of [`a${n}`, `t${n}`, `s${String(n * 3).padStart(2, '0')}y`]) {
          ever.add(id);
          await presence.add(ch, { user: 'u', connectionId: id }, 60_000);
        }
        await presence.add(ch, { user: 'u', connectionId: stay[n] as string }, 60_000);
        await presence.add(ch, { user: 'u', connectionId: churn[n] as string }, 60_000);
      });
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(ascending(seen));
      for (const id of stay) expect(seen).toContain(id);
      for (const id of seen) expect(ever.has(id)).toBe(true);
    });

    it('closes cleanly, twice if asked', async () => {
      const other = await open();
      await other.presence.close();
      await expect(other.presence.close()).resolves.toBeUndefined();
    });

    // Registered only for shared stores: for the others this check does not apply (not "skipped").
    if (options.shared === true)
      it('shares presence across nodes, with join and leave events on the other node', async () => {
        const other = await open();
        const ch = fresh();
        await watch(node, ch);
        await watch(other, ch);
        await presence.add(ch, client(1), 60_000);
        await waitFor(() => other.events.joins.length === 1, timeout, 'the join on the other node');
        expect(other.events.joins[0]).toEqual({ channel: ch, client: client(1) });
        expect(await other.presence.list(ch)).toEqual([client(1)]);
        await other.presence.remove(ch, client(1));
        await waitFor(() => events.leaves.length === 1, timeout, 'the leave on the first node');
        expect(await presence.list(ch)).toEqual([]);
      });
  });
}
