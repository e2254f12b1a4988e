/**
 * Recovery over real sockets: what was published while the client was away arrives exactly once,
 * in order; a lost history is reported as a gap, never silently.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type TetherClient } from '../src/index.js';
import { createFakeServer, type FakeServer, waitFor } from './fake-server.js';

let s: FakeServer | undefined;
let c: TetherClient | undefined;

afterEach(async () => {
  c?.close();
  await s?.close();
});

describe('recovery', () => {
  it('subscribe, disconnect, N publications while away, reconnect → exactly those N, once each, in order', async () => {
    s = await createFakeServer();
    const server = s;
    c = createClient({ url: server.url, WebSocket, reconnect: { initialDelay: 10, maxDelay: 50 } });
    const got: number[] = [];
    const gaps: unknown[] = [];
    const sub = c.subscribe<number>('room:r', { onMessage: (n) => got.push(n), onGap: (g) => gaps.push(g) });
    await c.connect();
    await sub.ready;
    server.publish('room:r', 1);
    server.publish('room:r', 2);
    await vi.waitFor(() => expect(got).toEqual([1, 2]));

    await server.stop();
    await vi.waitFor(() => expect(c?.state).toBe('reconnecting'));
    const N = 25;
    for (let i = 3; i < 3 + N; i++) server.publish('room:r', i);
    // After the reply, replay overlaps live delivery: an old publication sent again must be dropped.
    const replayed = server.channels.get('room:r')?.log[N] ?? null;
    const resubscribed = waitFor(sub, 'subscribed');
    await server.start();
    const [ctx] = await resubscribed;
    expect(ctx.recovered).toBe(true);
    server.broadcast(replayed);
    server.publish('room:r', 100);
    await vi.waitFor(() => expect(got.at(-1)).toBe(100));
    expect(got).toEqual([1, 2, ...Array.from({ length: N }, (_, i) => i + 3), 100]);
    expect(gaps).toEqual([]);
  });

  it('history lost (new epoch): onGap fires, then delivery continues from the new position', async () => {
    s = await createFakeServer();
    const server = s;
    c = createClient({ url: server.url, WebSocket, reconnect: { initialDelay: 10, maxDelay: 50 } });
    const got: unknown[] = [];
    const gaps: unknown[] = [];
    const sub = c.subscribe('room:g', { onMessage: (d) => got.push(d), onGap: (g) => gaps.push(g) });
    await c.connect();
    await sub.ready;
    server.publish('room:g', 'a');
    await vi.waitFor(() => expect(got).toEqual(['a']));
    const resubscribed = waitFor(sub, 'subscribed');
    await server.restart({ resetHistory: true });
    const [ctx] = await resubscribed;
    expect(ctx.recovered).toBe(false);
    expect(gaps).toHaveLength(1);
    server.publish('room:g', 'b');
    await vi.waitFor(() => expect(got).toEqual(['a', 'b']));
  });

  it('a live jump past the next offset (a broker that could not backfill) is reported as a gap, not hidden', async () => {
    s = await createFakeServer();
    const server = s;
    c = createClient({ url: server.url, WebSocket });
    const got: unknown[] = [];
    const gaps: { since?: { offset: number }; offset: number }[] = [];
    const sub = c.subscribe('room:j', { onMessage: (d) => got.push(d), onGap: (g) => gaps.push(g) });
    await c.connect();
    await sub.ready;
    server.publish('room:j', 'a');
    await vi.waitFor(() => expect(got).toEqual(['a']));
    const first = server.channels.get('room:j')?.log[0] as { offset: number };
    server.broadcast({ ...first, offset: first.offset + 3, data: 'd' });
    await vi.waitFor(() => expect(got).toEqual(['a', 'd']));
    expect(gaps).toEqual([
      expect.objectContaining({ since: expect.objectContaining({ offset: first.offset }), offset: first.offset + 3 }),
    ]);
  });

  it('publish while offline is queued, sent once after reconnect, and deduplicated by its key when resent', async () => {
    s = await createFakeServer();
    const server = s;
    c = createClient({ url: server.url, WebSocket, reconnect: { initialDelay: 10, maxDelay: 50 } });
    const sub = c.subscribe('room:p');
    await c.connect();
    await server.stop();
    await vi.waitFor(() => expect(c?.state).toBe('reconnecting'));
    const pending = sub.publish({ text: 'hi' }, { key: 'k1' });
    await server.start();
    expect(await pending).toEqual({ offset: 1, epoch: expect.any(String) });
    expect(await sub.publish({ text: 'hi' }, { key: 'k1' })).toMatchObject({ offset: 1 });
    expect(server.channels.get('room:p')?.log).toHaveLength(1);
  });
});
