/**
 * A node that drains closes its clients with 1012. The client then comes back after a short
 * randomised pause (within `minDelay`, however many attempts came before), on the next URL (the
 * draining node refuses new connections), and resumes each subscription with `since`.
 * The live version, two `tether serve` processes on Redis, is packages/server/test/rolling-restart.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ClientOptions, createClient, type ReconnectingContext, type TetherClient } from '../src/index.js';
import { type FakeSocket, fakeSockets } from './fake-socket.js';

let sockets: ReturnType<typeof fakeSockets>;
let client: TetherClient | undefined;

beforeEach(() => {
  vi.useFakeTimers();
  sockets = fakeSockets();
});
afterEach(() => {
  client?.close();
  client = undefined;
  vi.useRealTimers();
});

function make(opts: Partial<ClientOptions>): { c: TetherClient; retries: ReconnectingContext[] } {
  const c = createClient({ url: 'ws://a/ws', WebSocket: sockets.Ctor, random: () => 0.9, ...opts });
  client = c;
  const retries: ReconnectingContext[] = [];
  c.on('reconnecting', (ctx) => retries.push(ctx));
  return { c, retries };
}

const message = (offset: number) => ({ type: 'message', channel: 'room:r', offset, epoch: 'e1', data: offset, ts: 1 });

/** Welcomes the socket and answers its subscribe at `offset`; returns that subscribe frame. */
function subscribed(s: FakeSocket, offset: number, publications: unknown[] = []): Record<string, unknown> {
  s.welcome({ interval: 60_000, timeout: 60_000 });
  const frame = s.sent.find((f) => f.type === 'subscribe') as Record<string, unknown>;
  s.receive({ type: 'reply', id: frame.id, ok: true, result: { offset, epoch: 'e1', recovered: true, publications } });
  return frame;
}

describe('1012 (the server is draining)', () => {
  it('reconnects within minDelay to the next URL and resumes with since, without growing the pause', () => {
    const { c, retries } = make({ url: ['ws://a/ws', 'ws://b/ws'], reconnect: { minDelay: 400 } });
    const got: number[] = [];
    c.subscribe<number>('room:r', { onMessage: (n) => got.push(n) });
    c.connect();
    const first = subscribed(sockets.last(), 0);
    expect(first).not.toHaveProperty('since');
    sockets.last().receive(message(1));
    sockets.last().receive(message(2));

    sockets.last().drop(1012, 'server restarting');
    // A full-jitter pause within minDelay: 0.9 × 400 ms, not the backoff.
    expect(retries.at(-1)).toMatchObject({ attempt: 1, delay: 360, code: 1012 });
    vi.advanceTimersByTime(359);
    expect(sockets.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets.all.map((s) => s.url)).toEqual(['ws://a/ws', 'ws://b/ws']);
    const resumed = subscribed(sockets.last(), 3, [message(3)]);
    expect(resumed).toMatchObject({ type: 'subscribe', channel: 'room:r', since: { offset: 2, epoch: 'e1' } });
    expect(got).toEqual([1, 2, 3]);

    // B drains too, before the connection counted as healthy (attempt 2): still a short pause,
    // and back to the first URL.
    sockets.last().drop(1012);
    expect(retries.at(-1)).toMatchObject({ attempt: 2, delay: 360 });
    vi.advanceTimersByTime(360);
    expect(sockets.last().url).toBe('ws://a/ws');
    expect(subscribed(sockets.last(), 3)).toMatchObject({ since: { offset: 3, epoch: 'e1' } });
  });

  it('1001 (going away) also moves on to the next URL; a lost connection (1006) retries the same one', () => {
    const { c, retries } = make({ url: ['ws://a/ws', 'ws://b/ws'] });
    c.connect();
    sockets.last().welcome();
    sockets.last().drop(1006);
    expect(retries.at(-1)).toMatchObject({ attempt: 1, delay: 275 }); // the backoff: 500 × (1 − 0.5 × 0.9)
    vi.advanceTimersByTime(275);
    expect(sockets.last().url).toBe('ws://a/ws');
    sockets.last().welcome();
    sockets.last().drop(1001);
    vi.advanceTimersByTime(450);
    expect(sockets.all.map((s) => s.url)).toEqual(['ws://a/ws', 'ws://a/ws', 'ws://b/ws']);
  });

  it('behind a balancer (one URL) reconnects to that URL within minDelay', () => {
    const { c, retries } = make({ url: 'ws://lb/ws' });
    c.connect();
    sockets.last().welcome();
    sockets.last().drop(1012);
    expect(retries.at(-1)?.delay).toBe(450);
    vi.advanceTimersByTime(450);
    expect(sockets.all.map((s) => s.url)).toEqual(['ws://lb/ws', 'ws://lb/ws']);
  });
});
