/**
 * The broker conformance suite: offsets, dedup, history, retention, epoch, events, availability
 * and close, the same checks for every `Broker`.
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broker } from '../broker.js';
import {
  type ConformanceContext,
  type ConformanceOptions,
  type EventRecorder,
  fresh,
  opts,
  recordEvents,
  settings,
  skipped,
  suiteClock,
  waitFor,
} from './util.js';

/** Builds a fresh, not yet started broker for one test. */
export type MakeBroker = (context: ConformanceContext) => Broker | Promise<Broker>;

/** The options of `runBrokerConformance`. */
export type BrokerConformanceOptions = ConformanceOptions;

/**
 * Registers a Vitest `describe` block that checks `makeBroker`'s brokers against the `Broker`
 * contract: offsets, dedup, history, retention, epoch, events, availability, close. Presence has
 * its own suite, `runPresenceConformance`.
 */
export function runBrokerConformance(
  name: string,
  makeBroker: MakeBroker,
  options: BrokerConformanceOptions = {},
): void {
  const { injected, timeout, shortTtl } = settings(options);
  const title = `broker conformance: ${name}`;
  if (skipped(title, options)) return;

  describe(title, () => {
    const { now, advance, reset } = suiteClock(injected);
    let broker: Broker;
    let events: EventRecorder;
    const opened: Broker[] = [];

    const open = async (): Promise<{ broker: Broker; events: EventRecorder }> => {
      const b = await makeBroker({ now });
      const e = recordEvents();
      opened.push(b);
      await b.start(e);
      return { broker: b, events: e };
    };

    /** Publishes a marker on a subscribed channel and waits for it: everything published before it has been delivered. */
    const barrier = async (b: Broker, e: EventRecorder): Promise<void> => {
      const ch = fresh('barrier');
      await b.subscribe(ch);
      const { publication } = await b.publish(ch, 'barrier', opts());
      await waitFor(
        () => e.publications.some((p) => p.channel === ch && p.epoch === publication.epoch),
        timeout,
        'the barrier publication',
      );
      await b.unsubscribe(ch);
      e.publications.splice(0, e.publications.length, ...e.publications.filter((p) => p.channel !== ch));
    };

    beforeEach(async () => {
      reset();
      ({ broker, events } = await open());
    });

    afterEach(async () => {
      for (const b of opened.splice(0)) await b.close();
    });

    describe('publish and offsets', () => {
      it('assigns offsets 1, 2, 3 per channel, independently per channel', async () => {
        const a = fresh();
        const b = fresh();
        const offsets = [];
        for (const ch of [a, a, b, a, b]) offsets.push((await broker.publish(ch, ch, opts())).publication.offset);
        expect(offsets).toEqual([1, 2, 1, 3, 2]);
      });

      it('returns the full message frame, with `from` only when given', async () => {
        const ch = fresh();
        const data = { text: 'héllo ✓', n: 1.5, list: [1, null, true], nested: { deep: [] } };
        const before = now();
        const withFrom = await broker.publish(ch, data, opts({ from: 'alice' }));
        const without = await broker.publish(ch, 'plain', opts());
        expect(withFrom.duplicate).toBe(false);
        expect(withFrom.publication).toMatchObject({ type: 'message', channel: ch, offset: 1, data, from: 'alice' });
        expect(typeof withFrom.publication.epoch).toBe('string');
        expect(withFrom.publication.epoch.length).toBeGreaterThan(0);
        expect(withFrom.publication.ts).toBeGreaterThanOrEqual(before - 1000);
        expect(withFrom.publication.ts).toBeLessThanOrEqual(now() + 1000);
        expect('from' in without.publication).toBe(false);
        expect(without.publication.data).toBe('plain');
      });

      it('gives concurrent publishers distinct consecutive offsets and delivers them in offset order', async () => {
        const ch = fresh();
        await broker.subscribe(ch);
        const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => broker.publish(ch, i, opts())));
        const offsets = outcomes.map((o) => o.publication.offset).sort((x, y) => x - y);
        expect(offsets).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
        await waitFor(() => events.publications.length >= 40, timeout, '40 publications');
        expect(events.publications.map((p) => p.offset)).toEqual(offsets);
      });
    });

    describe('idempotency keys', () => {
      it('returns the original publication for a repeated key, delivers nothing and stores nothing', async () => {
        const ch = fresh();
        await broker.subscribe(ch);
        const first = await broker.publish(ch, { v: 1 }, opts({ key: 'k1', from: 'alice' }));
        const again = await broker.publish(ch, { v: 2 }, opts({ key: 'k1', from: 'alice' }));
        expect(again.duplicate).toBe(true);
        expect(again.publication).toEqual(first.publication);
        const next = await broker.publish(ch, { v: 3 }, opts({ key: 'k2' }));
        expect(next.publication.offset).toBe(2);
        await waitFor(() => events.publications.length >= 2, timeout, 'two publications');
        expect(events.publications.map((p) => p.data)).toEqual([{ v: 1 }, { v: 3 }]);
        const history = await broker.history(ch);
        expect(history.publications.map((p) => p.data)).toEqual([{ v: 1 }, { v: 3 }]);
        expect(history.offset).toBe(2);
      });

      it('scopes keys per channel', async () => {
        const a = fresh();
        const b = fresh();
        await broker.publish(a, 1, opts({ key: 'same' }));
        const other = await broker.publish(b, 2, opts({ key: 'same' }));
        expect(other.duplicate).toBe(false);
        expect(other.publication.channel).toBe(b);
      });

      it('forgets a key after the dedup window', async () => {
        const ch = fresh();
        const first = await broker.publish(ch, 1, opts({ key: 'k', dedupTtl: shortTtl }));
        expect((await broker.publish(ch, 1, opts({ key: 'k', dedupTtl: shortTtl }))).duplicate).toBe(true);
        advance(shortTtl + 1);
        const later = await waitFor(
          async () => {
            const outcome = await broker.publish(ch, 2, opts({ key: 'k', dedupTtl: shortTtl }));
            return outcome.duplicate ? undefined : outcome;
          },
          timeout + shortTtl,
          'the key to expire',
        );
        expect(later.publication.offset).toBe(first.publication.offset + 1);
        expect(later.publication.data).toBe(2);
      });
    });

    describe('history', () => {
      it('returns publications after `since`, oldest first, at most `limit`', async () => {
        const ch = fresh();
        for (let i = 1; i <= 6; i++) await broker.publish(ch, `m${i}`, opts());
        const all = await broker.history(ch);
        expect(all.offset).toBe(6);
        expect(all.publications.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5, 6]);
        expect((await broker.history(ch, { since: 4 })).publications.map((p) => p.data)).toEqual(['m5', 'm6']);
        expect((await broker.history(ch, { since: 1, limit: 2 })).publications.map((p) => p.offset)).toEqual([2, 3]);
        expect((await broker.history(ch, { since: 6 })).publications).toEqual([]);
        expect(all.publications[0]).toMatchObject({ type: 'message', channel: ch, epoch: all.epoch, data: 'm1' });
      });

      it('keeps only the newest `historySize` publications, while offsets keep advancing', async () => {
        const ch = fresh();
        for (let i = 1; i <= 5; i++) await broker.publish(ch, i, opts({ historySize: 3 }));
        const h = await broker.history(ch);
        expect(h.offset).toBe(5);
        expect(h.publications.map((p) => p.offset)).toEqual([3, 4, 5]);
        const none = fresh();
        await broker.publish(none, 1, opts({ historySize: 0 }));
        const second = await broker.publish(none, 2, opts({ historySize: 0 }));
        expect(second.publication.offset).toBe(2);
        const h0 = await broker.history(none);
        expect(h0.publications).toEqual([]);
        expect(h0.offset).toBe(2);
        expect(h0.epoch).toBe(second.publication.epoch);
      });

      it('drops publications older than `historyTtl`', async () => {
        const ch = fresh();
        await broker.publish(ch, 'old', opts({ historyTtl: shortTtl }));
        expect((await broker.history(ch)).publications.map((p) => p.data)).toEqual(['old']);
        advance(shortTtl + 1);
        await waitFor(
          async () => (await broker.history(ch)).publications.length === 0,
          timeout + shortTtl,
          'the publication to expire',
        );
        const next = await broker.publish(ch, 'new', opts({ historyTtl: shortTtl }));
        const h = await broker.history(ch);
        expect(h.publications.map((p) => p.data)).toEqual(['new']);
        expect(next.publication.offset).toBe(2);
        expect(h.epoch).toBe(next.publication.epoch);
      });

      it('reports offset 0 for a channel never published to, in the epoch its first publication gets', async () => {
        const ch = fresh();
        const empty = await broker.history(ch);
        expect(empty.offset).toBe(0);
        expect(empty.publications).toEqual([]);
        const { publication } = await broker.publish(ch, 1, opts());
        expect(publication.epoch).toBe(empty.epoch);
      });
    });

    describe('epoch', () => {
      it('stays the same across publishes and reads of a channel', async () => {
        const ch = fresh();
        const first = await broker.publish(ch, 1, opts());
        const second = await broker.publish(ch, 2, opts());
        const history = await broker.history(ch);
        expect(second.publication.epoch).toBe(first.publication.epoch);
        expect(history.epoch).toBe(first.publication.epoch);
        expect(history.publications.every((p) => p.epoch === first.publication.epoch)).toBe(true);
      });
    });

    describe('events', () => {
      it('reports publications of subscribed channels only, in order, its own included', async () => {
        const on = fresh();
        const off = fresh();
        await broker.subscribe(on);
        for (let i = 1; i <= 5; i++) {
          await broker.publish(on, i, opts());
          await broker.publish(off, i, opts());
        }
        await barrier(broker, events);
        expect(events.publications.map((p) => [p.channel, p.offset, p.data])).toEqual(
          [1, 2, 3, 4, 5].map((i) => [on, i, i]),
        );
        expect(events.publications[0]?.epoch).toBe((await broker.history(on)).epoch);
      });

      it('reports each publication once even when subscribed twice', async () => {
        const ch = fresh();
        await broker.subscribe(ch);
        await broker.subscribe(ch);
        await broker.publish(ch, 'once', opts());
        await barrier(broker, events);
        expect(events.publications.map((p) => p.data)).toEqual(['once']);
      });

      it('stops after unsubscribe, and unsubscribe of an unknown channel is harmless', async () => {
        const ch = fresh();
        await broker.subscribe(ch);
        await broker.publish(ch, 'before', opts());
        await waitFor(() => events.publications.length === 1, timeout, 'the first publication');
        await broker.unsubscribe(ch);
        await broker.unsubscribe(fresh());
        await broker.publish(ch, 'after', opts());
        await barrier(broker, events);
        expect(events.publications.map((p) => p.data)).toEqual(['before']);
      });
    });

    // Registered only for shared stores: for the others these checks do not apply (not "skipped").
    if (options.shared === true)
      describe('across nodes sharing a store', () => {
        it('assigns one global offset sequence and delivers it, in order, to every node', async () => {
          const other = await open();
          const ch = fresh();
          await broker.subscribe(ch);
          await other.broker.subscribe(ch);
          const outcomes = await Promise.all(
            Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? broker : other.broker).publish(ch, i, opts())),
          );
          expect(outcomes.map((o) => o.publication.offset).sort((x, y) => x - y)).toEqual(
            Array.from({ length: 30 }, (_, i) => i + 1),
          );
          expect(new Set(outcomes.map((o) => o.publication.epoch)).size).toBe(1);
          for (const e of [events, other.events]) {
            await waitFor(() => e.publications.length >= 30, timeout, '30 publications on each node');
            expect(e.publications.map((p) => p.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
          }
        });

        it('dedups a key whichever node the retry reaches', async () => {
          const other = await open();
          const ch = fresh();
          const first = await broker.publish(ch, 'x', opts({ key: 'k' }));
          expect(await other.broker.publish(ch, 'x', opts({ key: 'k' }))).toEqual({
            publication: first.publication,
            duplicate: true,
          });
          expect((await other.broker.history(ch)).publications).toEqual([first.publication]);
        });
      });

    describe('lifecycle', () => {
      it('is available once started', () => {
        expect(broker.available()).toBe(true);
        expect(typeof broker.name).toBe('string');
        expect(broker.name.length).toBeGreaterThan(0);
      });

      it('closes cleanly, twice if asked, and reports no events after closing', async () => {
        const other = await open();
        const ch = fresh();
        await other.broker.subscribe(ch);
        await broker.subscribe(ch);
        await other.broker.close();
        await other.broker.close();
        await broker.publish(ch, 'after close', opts());
        await barrier(broker, events);
        expect(other.events.publications).toEqual([]);
      });
    });
  });
}
