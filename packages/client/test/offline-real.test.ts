/**
 * Offline sends over real sockets against the real `@tether/server`: a publish made well into an
 * outage (a short outage and a shorter request timeout stand in for 30 s and 10 s) is delivered
 * exactly once after the reconnect and its promise resolves; an application's own retry with the
 * same `key` after a `TimeoutError` publishes once; queued requests reject on `close()`; and the
 * seed's `WebSocketManager` against the real server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Broker, createServer, memoryBroker, signToken, sqliteBroker, type TetherServer } from '@tether/server';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, DisconnectedError, type TetherClient, TimeoutError, WebSocketManager } from '../src/index.js';
import { waitFor } from './fake-server.js';

const SECRET = 'offline-test-secret-of-some-length-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'tether-offline-'));
const servers: TetherServer[] = [];
const stops: (() => void)[] = [];
const token = () => signToken(SECRET, { user: 'ann' });

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(broker: Broker, port = 0): Promise<{ server: TetherServer; port: number }> {
  const server = createServer({
    host: '127.0.0.1',
    port,
    auth: { jwtSecret: SECRET },
    broker,
    logLevel: 'silent',
    drainDelay: 0,
  });
  servers.push(server);
  const address = await server.listen();
  return { server, port: address.port };
}

async function stop(server: TetherServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

function track(c: TetherClient): TetherClient {
  stops.push(() => c.close());
  return c;
}

/** Resolves after `n` more `reconnecting` events: that many failed attempts of a real outage. */
async function failedAttempts(c: TetherClient, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await waitFor(c, 'reconnecting', 5000);
}

/** Resolves at the first failed attempt after `ms` have passed since `since`. */
async function outageLasts(c: TetherClient, since: number, ms: number): Promise<void> {
  while (Date.now() - since < ms) await waitFor(c, 'reconnecting', 5000);
}

it('a publish made during an outage many request timeouts long is delivered once after the reconnect, and resolves', async () => {
  const file = join(dir, 'outage.db');
  const first = await start(sqliteBroker({ file }));
  const c = track(
    createClient({
      url: `ws://127.0.0.1:${first.port}/ws`,
      WebSocket,
      token,
      requestTimeout: 200,
      reconnect: { minDelay: 50, maxDelay: 100 },
    }),
  );
  const got: unknown[] = [];
  const sub = c.subscribe('room:outage', { onMessage: (d) => got.push(d) });
  await c.connect();
  await sub.ready;

  await stop(first.server);
  await failedAttempts(c, 3);
  const typedAt = Date.now();
  const pub = c.publish('room:outage', { text: 'typed while offline' });
  let settled: unknown = 'pending';
  pub.then(
    (v) => (settled = v),
    (e) => (settled = e),
  );
  // Five request timeouts later, and still waiting.
  await outageLasts(c, typedAt, 5 * 200);
  expect(settled).toBe('pending');
  expect(c.stats.queued).toBe(1);

  const second = await start(sqliteBroker({ file }), first.port);
  const res = await pub;
  expect(res.offset).toBe(1);
  // A later publication as a barrier: a doubled one would arrive before it.
  await second.server.publish('room:outage', 'after');
  await vi.waitFor(() => expect(got).toContain('after'));
  expect(got).toEqual([{ text: 'typed while offline' }, 'after']);
});

it("an application's retry with the same key after a TimeoutError is published once", async () => {
  const base = memoryBroker();
  // The first publish is slow (the broker holds it), so the client times out although it went through.
  let release = (): void => {};
  let hold: Promise<void> | undefined = new Promise((r) => {
    release = r;
  });
  const broker = new Proxy(base, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (prop === 'publish')
        return async (...args: Parameters<Broker['publish']>) => {
          const h = hold;
          hold = undefined;
          await h;
          return target.publish(...args);
        };
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const { port, server } = await start(broker);
  const c = track(createClient({ url: `ws://127.0.0.1:${port}/ws`, WebSocket, token }));
  const got: unknown[] = [];
  const sub = c.subscribe('room:retry', { onMessage: (d) => got.push(d) });
  await c.connect();
  await sub.ready;

  const key = 'msg-typed-at-12:00:01';
  await expect(c.publish('room:retry', { text: 'once' }, { key, timeout: 100 })).rejects.toBeInstanceOf(TimeoutError);
  release();
  await vi.waitFor(() => expect(got).toEqual([{ text: 'once' }]));
  const retried = await c.publish('room:retry', { text: 'once' }, { key });
  expect(retried.offset).toBe(1);
  await server.publish('room:retry', 'after');
  await vi.waitFor(() => expect(got).toContain('after'));
  expect(got).toEqual([{ text: 'once' }, 'after']);
});

it('queued requests reject with DisconnectedError when close() is called during an outage', async () => {
  const { port, server } = await start(memoryBroker());
  await stop(server);
  const c = track(
    createClient({ url: `ws://127.0.0.1:${port}/ws`, WebSocket, token, reconnect: { minDelay: 50, maxDelay: 100 } }),
  );
  const connected = c.connect();
  await failedAttempts(c, 2);
  const rpc = c.rpc('anything');
  const pub = c.publish('room:x', 1);
  expect(c.stats.queued).toBe(2);
  c.close();
  await expect(rpc).rejects.toBeInstanceOf(DisconnectedError);
  await expect(pub).rejects.toBeInstanceOf(DisconnectedError);
  await expect(connected).rejects.toBeInstanceOf(DisconnectedError);
});

it("the seed's WebSocketManager against the real server: Tether mode, messages, reconnect with onConnect again", async () => {
  const file = join(dir, 'manager.db');
  const first = await start(sqliteBroker({ file }));
  const events: unknown[] = [];
  const m = new WebSocketManager({
    url: `ws://127.0.0.1:${first.port}/ws`,
    WebSocket,
    token,
    reconnect: { minDelay: 20, maxDelay: 100 },
    onConnect: () => events.push('connect'),
    onDisconnect: () => events.push('disconnect'),
    onMessage: (msg) => events.push(msg),
  });
  stops.push(() => m.disconnect());
  await m.connect();
  expect(m.isConnected).toBe(true);
  expect(m.client.plain).toBe(false);
  const sub = m.client.subscribe('chat:s1');
  await sub.ready;
  await first.server.publish('chat:s1', { event_id: 'e1', data: { type: 'FINISH' } });
  await vi.waitFor(() => expect(events).toHaveLength(2));
  expect(events[1]).toMatchObject({ type: 'message', channel: 'chat:s1', data: { event_id: 'e1' } });

  const reconnected = waitFor(m.client, 'open', 10_000);
  await stop(first.server);
  await start(sqliteBroker({ file }), first.port);
  await reconnected;
  expect(events.filter((e) => typeof e === 'string')).toEqual(['connect', 'disconnect', 'connect']);
  expect(m.isConnected).toBe(true);
  m.disconnect();
  expect(m.isConnected).toBe(false);
});
