import { CLOSE_POLICY, closePolicy } from '@tether/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeSockets } from '../test/fake-socket.js';
import { DEFAULT_RECONNECT, reconnectDelay } from './backoff.js';
import { type ClientOptions, createClient, type ReconnectingContext, type TetherClient } from './client.js';
import { DisconnectedError, QueueFullError, ServerError, TimeoutError } from './errors.js';

let clients: TetherClient[] = [];
let sockets: ReturnType<typeof fakeSockets>;

function make(opts: Partial<ClientOptions> = {}): TetherClient {
  const c = createClient({ url: 'ws://test/ws', WebSocket: sockets.Ctor, random: () => 0, ...opts });
  clients.push(c);
  return c;
}

/** Records every `reconnecting` event. */
function retries(c: TetherClient): ReconnectingContext[] {
  const seen: ReconnectingContext[] = [];
  c.on('reconnecting', (ctx) => seen.push(ctx));
  return seen;
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

describe('state machine and backoff', () => {
  it('goes idle → connecting → open → reconnecting → open, and waits exactly the backoff delay', async () => {
    const c = make();
    const states: string[] = [];
    c.on('state', (next, prev) => states.push(`${prev}>${next}`));
    const connected = c.connect();
    expect(c.connect()).toBe(connected); // idempotent
    sockets.last().welcome();
    await connected;
    sockets.last().drop(1006);
    expect(c.state).toBe('reconnecting');
    vi.advanceTimersByTime(499);
    expect(sockets.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets.all).toHaveLength(2);
    sockets.last().welcome();
    expect(states).toEqual(['idle>connecting', 'connecting>open', 'open>reconnecting', 'reconnecting>open']);
    expect(c.stats.reconnects).toBe(1);
  });

  it('resets the attempt count only after a welcomed connection stayed open 5 s', () => {
    const c = make();
    const seen = retries(c);
    c.connect();
    sockets.last().welcome();
    sockets.last().drop(1006); // attempt 1
    vi.advanceTimersByTime(500);
    sockets.last().drop(1006); // failed before open: attempt 2
    vi.advanceTimersByTime(1000);
    sockets.last().welcome({ interval: 60_000, timeout: 60_000 });
    vi.advanceTimersByTime(4999);
    sockets.last().drop(1006); // open 4999 ms: not healthy yet → attempt 3
    vi.advanceTimersByTime(2000);
    sockets.last().welcome({ interval: 60_000, timeout: 60_000 });
    vi.advanceTimersByTime(5000);
    sockets.last().drop(1006); // open 5 s: reset → attempt 1
    expect(seen.map((r) => [r.attempt, r.delay])).toEqual([
      [1, 500],
      [2, 1000],
      [3, 2000],
      [1, 500],
    ]);
  });

  it('follows the close-code policy table for every code', async () => {
    for (const code of [...Object.keys(CLOSE_POLICY).map(Number), 4999]) {
      sockets = fakeSockets();
      const c = make({ token: () => 'fresh', random: () => 0.5 });
      const seen = retries(c);
      const errors: unknown[] = [];
      c.on('error', (e) => errors.push(e));
      c.connect();
      await vi.advanceTimersByTimeAsync(0);
      sockets.last().welcome();
      sockets.last().drop(code, 'test');
      const p = closePolicy(code);
      expect(c.state, `code ${code}`).toBe(p.reconnect ? 'reconnecting' : 'closed');
      expect(c.stats.lastClose).toEqual({ code, reason: 'test' });
      expect(
        errors.some((e) => e instanceof DisconnectedError && e.closeCode === code),
        `report ${code}`,
      ).toBe(p.report);
      if (p.reconnect) {
        expect(seen[0]?.delay, `delay ${code}`).toBe(reconnectDelay(p.backoff, 1, DEFAULT_RECONNECT, () => 0.5));
        if (p.backoff === 'quick') expect(seen[0]?.delay).toBeLessThan(DEFAULT_RECONNECT.initialDelay);
        if (p.backoff === 'long') expect(seen[0]?.delay).toBeGreaterThan(DEFAULT_RECONNECT.initialDelay * 4);
      }
      c.close();
    }
  });

  it('4001: calls the token getter again and retries; stops when it returns nothing', async () => {
    const tokens = ['t1', 't2', null];
    const getter = vi.fn(async () => tokens.shift());
    const c = make({ token: getter });
    const done = c.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets.last().url).toBe('ws://test/ws?token=t1');
    sockets.last().welcome();
    sockets.last().drop(4001);
    await vi.advanceTimersByTimeAsync(500);
    expect(sockets.last().url).toBe('ws://test/ws?token=t2');
    sockets.last().welcome();
    sockets.last().drop(4001); // open < 5 s: attempt 2, 1000 ms
    await vi.advanceTimersByTimeAsync(1000);
    expect(getter).toHaveBeenCalledTimes(3);
    expect(sockets.all).toHaveLength(2);
    expect(c.state).toBe('closed');
    await done; // resolved by the first welcome
  });

  it('4001 with a static token stops: no token can be refreshed', () => {
    const c = make({ token: 'static' });
    c.connect();
    sockets.last().welcome();
    sockets.last().drop(4001);
    expect(c.state).toBe('closed');
  });

  it('connect() rejects when maxAttempts is exhausted', async () => {
    const c = make({ reconnect: { maxAttempts: 2 } });
    const p = c.connect();
    sockets.last().drop(1006);
    vi.advanceTimersByTime(500);
    sockets.last().drop(1006);
    vi.advanceTimersByTime(1000);
    sockets.last().drop(1006);
    await expect(p).rejects.toBeInstanceOf(DisconnectedError);
    expect(sockets.all).toHaveLength(3);
    expect(c.state).toBe('closed');
  });

  it('time options take Duration strings; a bad one is a RangeError naming the option', async () => {
    const c = make({ connectTimeout: '300ms', reconnect: { minDelay: '1s' } });
    const seen = retries(c);
    c.connect();
    vi.advanceTimersByTime(299);
    expect(c.state).toBe('connecting');
    vi.advanceTimersByTime(1);
    expect(seen.map((r) => r.delay)).toEqual([1000]);
    expect(() => make({ requestTimeout: 'soon' })).toThrow(/requestTimeout/);
    expect(() => make({ heartbeat: { interval: -1 } })).toThrow(RangeError);
    await expect(c.rpc('x', undefined, { timeout: 'later' })).rejects.toThrow(/timeout/);
  });

  it('connect timeout counts as a failed attempt', () => {
    const c = make({ connectTimeout: 300 });
    c.connect(); // the socket never opens
    vi.advanceTimersByTime(299);
    expect(c.state).toBe('connecting');
    vi.advanceTimersByTime(1);
    expect(c.state).toBe('reconnecting');
    expect(sockets.all[0]?.closed).toBeDefined();
  });

  it('JSON offers no subprotocol; a silent server is taken for plain after welcomeTimeout, a late welcome upgrades', () => {
    const c = make({ welcomeTimeout: 200 });
    c.connect();
    expect(sockets.last().protocols).toEqual([]);
    sockets.last().open('');
    vi.advanceTimersByTime(199);
    expect(c.state).toBe('connecting');
    vi.advanceTimersByTime(1);
    expect(c.state).toBe('open');
    expect(c.plain).toBe(true);
    // A slow Tether server after all: its late welcome upgrades the connection.
    c.subscribe('room:late');
    sockets.last().welcome({ interval: 1000, timeout: 500 });
    expect(c.plain).toBe(false);
    expect(sockets.last().sent).toMatchObject([{ type: 'subscribe', channel: 'room:late' }]);
    expect(c.stats.reconnects).toBe(0);
  });

  it('a plain server is open at its first frame that is not a welcome; frames arrive as JSON or raw strings', () => {
    const c = make();
    const got: unknown[] = [];
    c.on('message', (m) => got.push(m));
    c.connect();
    sockets.last().open('');
    expect(c.state).toBe('connecting');
    sockets.last().receive({ type: 'welcome-ish', a: 1 });
    expect(c.state).toBe('open');
    expect(c.plain).toBe(true);
    sockets.last().receive('hello');
    expect(got).toEqual([{ type: 'welcome-ish', a: 1 }, 'hello']);
  });

  it('taken for plain, frames shaped like Tether replies or pongs are the server messages; a welcome still upgrades', () => {
    const c = make();
    const got: unknown[] = [];
    c.on('message', (m) => got.push(m));
    c.connect();
    sockets.last().open('');
    // A Tether-shaped first frame that is not a welcome: the server is plain, and this is its message.
    sockets.last().receive({ type: 'heartbeat' });
    expect(c.state).toBe('open');
    expect(c.plain).toBe(true);
    sockets.last().receive({ type: 'pong' });
    sockets.last().receive({ type: 'reply', id: 1, ok: true, result: 2 });
    sockets.last().receive({ type: 'ping' });
    expect(got).toEqual([
      { type: 'heartbeat' },
      { type: 'pong' },
      { type: 'reply', id: 1, ok: true, result: 2 },
      { type: 'ping' },
    ]);
    expect(sockets.last().sent).toEqual([]);
    sockets.last().welcome();
    expect(c.plain).toBe(false);
  });

  it('plain: true opens at once, without waiting for a welcome', () => {
    const c = make({ plain: true });
    c.connect();
    expect(sockets.last().protocols).toEqual([]);
    sockets.last().open('');
    expect(c.state).toBe('open');
    expect(c.plain).toBe(true);
  });

  it('rotates several URLs on failure', () => {
    const c = make({ url: ['ws://a/ws', 'ws://b/ws'] });
    c.connect();
    sockets.last().drop(1006);
    vi.advanceTimersByTime(500);
    sockets.last().drop(1006);
    vi.advanceTimersByTime(1000);
    expect(sockets.all.map((s) => s.url)).toEqual(['ws://a/ws', 'ws://b/ws', 'ws://a/ws']);
  });

  it('close() cancels a pending reconnect and leaves no timer', async () => {
    const c = make();
    c.connect();
    sockets.last().welcome();
    sockets.last().drop(1012);
    expect(c.state).toBe('reconnecting');
    c.close();
    expect(c.state).toBe('closed');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(sockets.all).toHaveLength(1);
  });

  it('connect() after close() starts afresh', async () => {
    const c = make();
    c.connect();
    sockets.last().welcome();
    c.close();
    const again = c.connect();
    expect(c.state).toBe('connecting');
    sockets.last().welcome();
    await again;
    expect(c.state).toBe('open');
  });
});

describe('liveness', () => {
  it('treats interval + timeout of server silence as dead (4010) and reconnects', () => {
    const c = make();
    c.connect();
    sockets.last().welcome({ interval: 1000, timeout: 500 });
    vi.advanceTimersByTime(1000);
    sockets.last().receive({ type: 'ping' }); // any frame feeds the deadline
    expect(sockets.last().sent).toContainEqual({ type: 'pong' });
    vi.advanceTimersByTime(1499);
    expect(c.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(c.state).toBe('reconnecting');
    expect(c.stats.lastClose?.code).toBe(4010);
  });

  it('heartbeat.timeout overrides the welcome timeout', () => {
    const c = make({ heartbeat: { timeout: 100 } });
    c.connect();
    sockets.last().welcome({ interval: 1000, timeout: 5000 });
    vi.advanceTimersByTime(1099);
    expect(c.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(c.state).toBe('reconnecting');
  });

  it('checks the wall clock first after a sleep: a send verifies before it trusts the socket', () => {
    const c = make();
    c.connect();
    sockets.last().welcome({ interval: 1000, timeout: 500 });
    // The laptop slept: wall clock jumped, no timer ran.
    vi.setSystemTime(Date.now() + 60_000);
    expect(c.send({ hello: 1 })).toBe(false);
    expect(c.state).toBe('reconnecting');
    expect(c.stats.queued).toBe(1);
    expect(sockets.all[0]?.sent).toEqual([]);
  });

  it('probes on visibilitychange and online, exposes stale until the answer, reconnects without one', () => {
    const target = new EventTarget();
    const g = globalThis as unknown as Record<string, unknown>;
    g.addEventListener = target.addEventListener.bind(target);
    g.removeEventListener = target.removeEventListener.bind(target);
    try {
      const c = make();
      c.connect();
      sockets.last().welcome({ interval: 10_000, timeout: 500 });
      g.document = { visibilityState: 'hidden' };
      target.dispatchEvent(new Event('visibilitychange')); // hidden: nothing to verify
      expect(c.stale).toBe(false);
      (g.document as { visibilityState: string }).visibilityState = 'visible';
      target.dispatchEvent(new Event('visibilitychange'));
      expect(c.stale).toBe(true);
      const ping = sockets.last().sent.find((f) => f.type === 'ping');
      expect(ping?.id).toBeTypeOf('number');
      sockets.last().receive({ type: 'pong', id: ping?.id });
      expect(c.stale).toBe(false);
      target.dispatchEvent(new Event('pageshow'));
      expect(c.stale).toBe(true);
      sockets.last().receive({ type: 'ping' }); // any frame answers a probe
      expect(c.stale).toBe(false);
      target.dispatchEvent(new Event('online'));
      expect(c.stale).toBe(true);
      vi.advanceTimersByTime(500);
      expect(c.state).toBe('reconnecting');
      // offline pauses attempts; online resumes at once
      target.dispatchEvent(new Event('offline'));
      vi.advanceTimersByTime(60_000);
      expect(sockets.all).toHaveLength(1);
      target.dispatchEvent(new Event('online'));
      vi.advanceTimersByTime(0);
      expect(sockets.all).toHaveLength(2);
    } finally {
      delete g.addEventListener;
      delete g.removeEventListener;
      delete g.document;
    }
  });

  it('ping() resolves with the round-trip time', async () => {
    const c = make();
    c.connect();
    sockets.last().welcome();
    const rtt = c.ping();
    vi.advanceTimersByTime(42);
    const ping = sockets.last().sent.find((f) => f.type === 'ping');
    sockets.last().receive({ type: 'pong', id: ping?.id });
    expect(await rtt).toBe(42);
    expect(c.stats.rtt).toBe(42);
  });
});

describe('offline queue and requests', () => {
  it('buffers while offline, flushes in order after welcome and after resubscribing; overflow is typed', async () => {
    const c = make({ queue: { max: 3 } });
    c.subscribe('room:a', {});
    expect(c.send({ n: 1 })).toBe(false);
    expect(c.send('two')).toBe(false);
    const rpc = c.rpc('echo', 3);
    expect(() => c.send({ n: 4 })).toThrow(QueueFullError);
    await expect(c.rpc('echo', 5)).rejects.toBeInstanceOf(QueueFullError);
    expect(c.stats.queued).toBe(3);
    c.connect();
    sockets.last().welcome();
    const sent = sockets.last().sent;
    expect(sent[0]?.type).toBe('subscribe');
    expect(sent[1]).toEqual({ n: 1 });
    expect(sent[2]).toBe('two');
    expect(sent[3]?.type).toBe('rpc');
    sockets.last().receive({ type: 'reply', id: sent[3]?.id, ok: true, result: 3 });
    expect(await rpc).toBe(3);
    expect(c.send({ n: 6 })).toBe(true);
  });

  it('queues instead of writing into a socket that is already closing', () => {
    const c = make();
    c.connect();
    sockets.last().welcome();
    sockets.last().readyState = 2; // the server's close frame arrived; the close event has not yet
    expect(c.send({ n: 1 })).toBe(false);
    sockets.last().drop(1012);
    vi.advanceTimersByTime(500);
    sockets.last().welcome();
    expect(sockets.last().sent).toEqual([{ n: 1 }]);
  });

  it('rejects a request with TimeoutError at its timeout, not before', async () => {
    const c = make();
    c.connect();
    sockets.last().welcome({ interval: 60_000, timeout: 60_000 });
    let settled: unknown;
    c.rpc('slow', undefined, { timeout: 1000 }).catch((e) => {
      settled = e;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBeInstanceOf(TimeoutError);
  });

  it('on disconnect: rpc rejects DisconnectedError; publish is resent with its key; server errors are typed', async () => {
    const c = make();
    c.connect();
    sockets.last().welcome();
    const rpc = c.rpc('x');
    const pub = c.publish('room:a', { hi: 1 });
    const first = sockets.last().sent.find((f) => f.type === 'publish');
    sockets.last().drop(1006);
    await expect(rpc).rejects.toBeInstanceOf(DisconnectedError);
    vi.advanceTimersByTime(500);
    sockets.last().welcome();
    const again = sockets.last().sent.find((f) => f.type === 'publish');
    expect(again?.key).toBe(first?.key);
    sockets.last().receive({ type: 'reply', id: again?.id, ok: true, result: { offset: 1, epoch: 'e' } });
    expect(await pub).toEqual({ offset: 1, epoch: 'e' });
    const denied = c.rpc('nope');
    const f = sockets.last().sent.at(-1);
    sockets.last().receive({ type: 'reply', id: f?.id, ok: false, error: { code: 'forbidden', message: 'no' } });
    await expect(denied).rejects.toMatchObject({ name: 'ServerError', code: 'forbidden' });
    await expect(denied).rejects.toBeInstanceOf(ServerError);
  });

  it('close() rejects every pending request with DisconnectedError', async () => {
    const c = make();
    c.connect();
    sockets.last().welcome();
    const a = c.rpc('a');
    const b = c.publish('room:a', 1);
    c.close();
    await expect(a).rejects.toBeInstanceOf(DisconnectedError);
    await expect(b).rejects.toBeInstanceOf(DisconnectedError);
    await expect(c.rpc('after')).rejects.toBeInstanceOf(DisconnectedError);
  });
});

describe('subscriptions', () => {
  const msg = (offset: number, epoch = 'e1') => ({
    type: 'message',
    channel: 'room:a',
    offset,
    epoch,
    data: offset,
    ts: 1,
  });

  it('emits state on every change, also back to subscribing when the connection drops', () => {
    const c = make();
    const sub = c.subscribe('room:a');
    const states: string[] = [];
    sub.on('state', (next, prev) => states.push(`${prev}>${next}`));
    c.connect();
    sockets.last().welcome();
    const s1 = sockets.last().sent[0];
    const ok = { offset: 0, epoch: 'e1', recovered: false, publications: [] };
    sockets.last().receive({ type: 'reply', id: s1?.id, ok: true, result: ok });
    sockets.last().drop(1012);
    expect(sub.state).toBe('subscribing');
    vi.advanceTimersByTime(500);
    sockets.last().welcome();
    sockets.last().receive({ type: 'reply', id: sockets.last().sent[0]?.id, ok: true, result: ok });
    sub.unsubscribe();
    expect(states).toEqual([
      'subscribing>subscribed',
      'subscribed>subscribing',
      'subscribing>subscribed',
      'subscribed>unsubscribed',
    ]);
  });

  it('applies the subscribe reply synchronously, drops replays, recovers with since, reports gaps', async () => {
    const c = make();
    const got: number[] = [];
    const gaps: unknown[] = [];
    const sub = c.subscribe<number>('room:a', { onMessage: (d) => got.push(d), onGap: (g) => gaps.push(g) });
    c.connect();
    sockets.last().welcome();
    const s1 = sockets.last().sent[0];
    // Reply and the first live message in the same tick: the message must be judged against the reply.
    sockets.last().receive({
      type: 'reply',
      id: s1?.id,
      ok: true,
      result: { offset: 2, epoch: 'e1', recovered: false, publications: [] },
    });
    sockets.last().receive(msg(2));
    sockets.last().receive(msg(3));
    sockets.last().receive(msg(3));
    await sub.ready;
    expect(got).toEqual([3]);
    sockets.last().drop(1012);
    vi.advanceTimersByTime(500);
    sockets.last().welcome();
    const s2 = sockets.last().sent[0];
    expect(s2).toMatchObject({ type: 'subscribe', channel: 'room:a', since: { offset: 3, epoch: 'e1' } });
    sockets.last().receive({
      type: 'reply',
      id: s2?.id,
      ok: true,
      result: { offset: 5, epoch: 'e1', recovered: true, publications: [msg(4), msg(5)] },
    });
    sockets.last().receive(msg(5));
    sockets.last().receive(msg(6));
    expect(got).toEqual([3, 4, 5, 6]);
    expect(gaps).toEqual([]);
    sockets.last().drop(1006); // second retry in a row: 1000 ms
    vi.advanceTimersByTime(1000);
    sockets.last().welcome();
    const s3 = sockets.last().sent[0];
    sockets.last().receive({
      type: 'reply',
      id: s3?.id,
      ok: true,
      result: { offset: 1, epoch: 'e2', recovered: false, publications: [] },
    });
    expect(gaps).toHaveLength(1);
    expect(sub.position).toEqual({ offset: 1, epoch: 'e2' });
    sub.unsubscribe();
    sub.unsubscribe();
    expect(sockets.last().sent.filter((f) => f.type === 'unsubscribe')).toHaveLength(1);
    expect(sub.state).toBe('unsubscribed');
  });
});
