// Presence must cost O(N) frames for N arrivals: joins and leaves of a channel reach its
// subscribers batched into one `presence_diff` per channel per interval, and above
// `presenceListLimit` subscribers as counts only. Frames are counted here, never timed.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, connectAs, type Frame, type RawClient, startServer, waitFor } from './helpers.js';

afterEach(cleanup);

type Entry = { user: string; connectionId: string };

/** Applies every `presence_diff` a client received, leaves first, to an empty set. */
function applied(c: RawClient, channel: string): Set<string> {
  const present = new Set<string>();
  for (const f of c.frames) {
    if (f.type !== 'presence_diff' || f.channel !== channel) continue;
    for (const e of (f.leaves ?? []) as Entry[]) present.delete(e.connectionId);
    for (const e of (f.joins ?? []) as Entry[]) present.add(e.connectionId);
  }
  return present;
}

const diffs = (c: RawClient): Frame[] => c.frames.filter((f) => f.type === 'presence_diff');

describe('presence batching', () => {
  it('delivers N concurrent arrivals in at most one diff per interval to each subscriber, not N joins', async () => {
    const N = 40;
    // A long interval: every subscribe answers well inside the first one, so N arrivals that
    // would have cost N·(N+1)/2 join frames arrive as a handful of diffs.
    const interval = 1_000;
    const server = await startServer({ presenceInterval: interval });
    const clients = await Promise.all(Array.from({ length: N }, (_, i) => connectAs(server, `u${i}`)));
    const started = Date.now();
    await Promise.all(clients.map((c) => c.ok({ type: 'subscribe', channel: 'room:crowd' })));
    await waitFor(() => clients.every((c) => applied(c, 'room:crowd').size === N), 10_000, 'every client sees all N');
    const rounds = Math.ceil((Date.now() - started) / interval) + 1;
    const perClient = clients.map((c) => diffs(c).length);
    // The guarantee: at most one diff per channel per interval, whatever the arrival pattern.
    for (const n of perClient) expect(n).toBeLessThanOrEqual(rounds);
    const total = perClient.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThanOrEqual(N * rounds);
    // Every join event was counted exactly once per subscriber that was live for it.
    for (const c of clients) {
      const joined = diffs(c).reduce((a, f) => a + (f.joined as number), 0);
      expect(joined).toBeGreaterThanOrEqual(1);
      expect(joined).toBeLessThanOrEqual(N);
    }
  });

  it('batches departures too, and the applied diffs match the presence list', async () => {
    const server = await startServer({ presenceInterval: 200 });
    const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => connectAs(server, `u${i}`)));
    await Promise.all(clients.map((c) => c.ok({ type: 'subscribe', channel: 'room:churn' })));
    const watcher = clients[0] as RawClient;
    await waitFor(() => applied(watcher, 'room:churn').size === 10, 5_000, 'ten present');
    const before = diffs(watcher).length;
    for (const c of clients.slice(1, 6)) c.terminate();
    await waitFor(() => applied(watcher, 'room:churn').size === 5, 5_000, 'five left');
    // Five departures, one interval: one or two diffs (a round may split them), never five.
    expect(diffs(watcher).length - before).toBeLessThanOrEqual(2);
    const list = await watcher.ok({ type: 'presence', channel: 'room:churn' });
    expect(new Set((list.clients as Entry[]).map((e) => e.connectionId))).toEqual(applied(watcher, 'room:churn'));
  });

  it('sends counts only, without lists, above presenceListLimit', async () => {
    const N = 12;
    const server = await startServer({ presenceInterval: 100, presenceListLimit: 5 });
    const clients = await Promise.all(Array.from({ length: N }, (_, i) => connectAs(server, `u${i}`)));
    const first = clients[0] as RawClient;
    await first.ok({ type: 'subscribe', channel: 'live:big' });
    await first.next('presence_diff');
    await Promise.all(clients.slice(1).map((c) => c.ok({ type: 'subscribe', channel: 'live:big' })));
    // 12 subscribers > 5: the diffs that carry the other 11 arrivals are count-only.
    await waitFor(
      () => diffs(first).reduce((a, f) => a + (f.joined as number), 0) === N - 1,
      10_000,
      'the first subscriber to count every arrival',
    );
    const big = diffs(first).filter((f) => f.joins === undefined);
    expect(big.length).toBeGreaterThanOrEqual(1);
    for (const f of big) expect(f.leaves).toBeUndefined();
    const list = await first.ok({ type: 'presence', channel: 'live:big' });
    expect((list.clients as unknown[]).length).toBe(N);
  });
});
