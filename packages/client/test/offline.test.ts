/**
 * Offline sends a person can trust, on fake sockets under fake time: a request made while offline
 * waits for the connection however long the outage (its reply timeout starts when it is written),
 * `queueTimeout` bounds the wait when asked, `reconnect()` cuts a backoff short, and the round-trip
 * time comes from the server's heartbeat.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClient, DisconnectedError, type TetherClient, TimeoutError } from '../src/index.js';
import type { ClientOptions } from '../src/types.js';
import { fakeSockets } from './fake-socket.js';

let clients: TetherClient[] = [];
let sockets: ReturnType<typeof fakeSockets>;

function make(opts: Partial<ClientOptions> = {}): TetherClient {
  const c = createClient({ url: 'ws://test/ws', WebSocket: sockets.Ctor, random: () => 0, ...opts });
  clients.push(c);
  return c;
}

beforeEach(() => {
  vi.useFakeTimers();
  sockets = fakeSockets();
});

afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
  vi.useRealTimers();
});

const long = { interval: 600_000, timeout: 600_000 };

describe('requests made while offline', () => {
  it('wait far longer than requestTimeout, go out once on reconnect, and then get requestTimeout for the reply', async () => {
    const c = make({ requestTimeout: 1000, reconnect: { minDelay: 30_000, maxDelay: 30_000, jitter: 0 } });
    c.connect();
    sockets.last().welcome(long);
    sockets.last().drop(1006);
    let settled: unknown = 'pending';
    const pub = c.publish('room:a', { text: 'typed while offline' });
    pub.then(
      (v) => (settled = v),
      (e) => (settled = e),
    );
    await vi.advanceTimersByTimeAsync(29_999);
    expect(settled).toBe('pending');
    expect(c.stats.queued).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    sockets.last().welcome(long);
    const sent = sockets.last().sent.filter((f) => f.type === 'publish');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ channel: 'room:a', data: { text: 'typed while offline' } });
    // The reply timeout started when it was written.
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe('pending');
    sockets.last().receive({ type: 'reply', id: sent[0]?.id, ok: true, result: { offset: 7, epoch: 'e' } });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toEqual({ offset: 7, epoch: 'e' });
  });

  it('a publish in flight when the connection drops waits again; its timeout restarts when it is resent', async () => {
    const c = make({ requestTimeout: 1000, reconnect: { minDelay: 5000, maxDelay: 5000, jitter: 0 } });
    c.connect();
    sockets.last().welcome(long);
    let settled: unknown = 'pending';
    c.publish('room:a', 1, { key: 'k1' }).then(
      (v) => (settled = v),
      (e) => (settled = e),
    );
    sockets.last().drop(1006);
    await vi.advanceTimersByTimeAsync(5000);
    expect(settled).toBe('pending');
    sockets.last().welcome(long);
    const again = sockets.last().sent.filter((f) => f.type === 'publish');
    expect(again).toMatchObject([{ key: 'k1' }]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(settled).toBeInstanceOf(TimeoutError);
  });

  it('queueTimeout bounds the wait with a TimeoutError; nothing is sent later', async () => {
    const c = make({ queueTimeout: '2s' });
    let settled: unknown = 'pending';
    c.rpc('x').catch((e) => (settled = e));
    await vi.advanceTimersByTimeAsync(1999);
    expect(settled).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBeInstanceOf(TimeoutError);
    expect((settled as Error).message).toContain('queued');
    c.connect();
    sockets.last().welcome(long);
    expect(sockets.last().sent.filter((f) => f.type === 'rpc')).toEqual([]);
  });

  it('every queued request rejects with DisconnectedError when the client stops for good', async () => {
    const c = make();
    const rpc = c.rpc('x');
    const pub = c.publish('room:a', 1);
    c.close();
    await expect(rpc).rejects.toBeInstanceOf(DisconnectedError);
    await expect(pub).rejects.toBeInstanceOf(DisconnectedError);
  });
});

describe('reconnect()', () => {
  it('while waiting out a backoff attempts at once; while open probes; after close() connects', () => {
    const c = make({ reconnect: { minDelay: 60_000, maxDelay: 60_000, jitter: 0 } });
    c.connect();
    sockets.last().welcome(long);
    sockets.last().drop(1006);
    expect(c.state).toBe('reconnecting');
    expect(sockets.all).toHaveLength(1);
    c.reconnect();
    expect(sockets.all).toHaveLength(2);
    c.reconnect(); // an attempt is in flight: nothing more
    expect(sockets.all).toHaveLength(2);
    sockets.last().welcome(long);
    c.reconnect();
    expect(c.stale).toBe(true);
    expect(sockets.last().sent.at(-1)).toMatchObject({ type: 'ping' });
    c.close();
    c.reconnect();
    expect(c.state).toBe('connecting');
    expect(sockets.all).toHaveLength(3);
  });
});

describe('stats.rtt from the heartbeat', () => {
  it("answers the server's ping with a pong, then measures its own ping", async () => {
    const c = make();
    c.connect();
    sockets.last().welcome(long);
    expect(c.stats.rtt).toBeUndefined();
    sockets.last().receive({ type: 'ping' });
    const [pong, ping] = sockets.last().sent;
    expect(pong).toEqual({ type: 'pong' });
    expect(ping).toMatchObject({ type: 'ping' });
    await vi.advanceTimersByTimeAsync(17);
    sockets.last().receive({ type: 'pong', id: ping?.id });
    await vi.advanceTimersByTimeAsync(0);
    expect(c.stats.rtt).toBe(17);
  });

  it('sends no ping to a plain server', () => {
    const c = make({ plain: true });
    c.connect();
    sockets.last().open('');
    sockets.last().receive({ type: 'ping' });
    expect(sockets.last().sent.filter((f) => f.type === 'ping')).toEqual([]);
  });
});
