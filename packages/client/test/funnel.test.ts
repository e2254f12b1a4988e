/**
 * Every way the client stops goes through its one exit funnel, so listeners always hear it:
 * exactly one `close` with `reconnect: false`, after which the client is `closed` and silent.
 * Real loopback sockets against the fake server.
 */
import { afterEach, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type ClientOptions,
  type CloseContext,
  createClient,
  DisconnectedError,
  type TetherClient,
} from '../src/index.js';
import { createFakeServer, type FakeServer } from './fake-server.js';

const servers: FakeServer[] = [];
const clients: TetherClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(opts?: Parameters<typeof createFakeServer>[0]): Promise<FakeServer> {
  const s = await createFakeServer(opts);
  servers.push(s);
  return s;
}

/** A client that records every `close` and resolves `stopped` on the one with `reconnect: false`. */
function client(url: string, opts: Partial<ClientOptions> = {}) {
  const c = createClient({ url, WebSocket, reconnect: { minDelay: 10, maxDelay: 50 }, ...opts });
  clients.push(c);
  c.on('error', () => {});
  const closes: CloseContext[] = [];
  const stopped = new Promise<CloseContext>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no close with reconnect: false within 5 s')), 5000);
    c.on('close', (ctx) => {
      closes.push(ctx);
      if (ctx.reconnect) return;
      clearTimeout(timer);
      resolve(ctx);
    });
  });
  return { c, closes, stopped };
}

/** The client is stopped for good: closed, and a further close() says nothing more. */
function expectSilentAfter(c: TetherClient, closes: CloseContext[]): void {
  expect(c.state).toBe('closed');
  const seen = closes.length;
  c.close();
  expect(closes).toHaveLength(seen);
}

it('4001 and then a token getter that gives nothing: close {reconnect: true}, then close {reconnect: false}', async () => {
  const s = await server({ onConnection: (conn) => conn.ws.close(4001, 'token expired') });
  const tokens = ['t1', undefined];
  const { c, closes, stopped } = client(s.url, { token: () => tokens.shift() });
  const connected = c.connect();
  expect(await stopped).toEqual({ code: 4001, reason: 'no fresh token', reconnect: false });
  expect(closes).toEqual([
    { code: 4001, reason: 'token expired', reconnect: true },
    { code: 4001, reason: 'no fresh token', reconnect: false },
  ]);
  await connected; // the welcome came before the close
  expect(s.accepted).toBe(1);
  expectSilentAfter(c, closes);
});

it('4001 and then a token getter that rejects: the client stops with close {reconnect: false}', async () => {
  const s = await server({ onConnection: (conn) => conn.ws.close(4001, 'token expired') });
  let calls = 0;
  const { c, closes, stopped } = client(s.url, {
    token: async () => {
      if (++calls > 1) throw new Error('auth server down');
      return 't1';
    },
  });
  void c.connect();
  expect(await stopped).toEqual({ code: 4001, reason: 'token getter failed', reconnect: false });
  expect(closes.map((x) => x.reconnect)).toEqual([true, false]);
  expectSilentAfter(c, closes);
});

it('4003: one close {reconnect: false} and no further attempt', async () => {
  const s = await server({ onConnection: (conn) => conn.ws.close(4003, 'forbidden') });
  const { c, closes, stopped } = client(s.url);
  const connected = c.connect();
  expect(await stopped).toEqual({ code: 4003, reason: 'forbidden', reconnect: false });
  expect(closes).toHaveLength(1);
  await connected; // the welcome came before the close
  expect(s.accepted).toBe(1);
  expectSilentAfter(c, closes);
});

it('maxAttempts reached: the attempts that never opened say nothing, the last one says close {reconnect: false}', async () => {
  const s = await server();
  const url = s.url;
  await s.stop(); // nothing listens on the port: every attempt fails with 1006
  const { c, closes, stopped } = client(url, { reconnect: { minDelay: 5, maxDelay: 10, maxAttempts: 2 } });
  const retries: number[] = [];
  c.on('reconnecting', (ctx) => retries.push(ctx.attempt));
  const connected = c.connect();
  const last = await stopped;
  expect(last).toMatchObject({ code: 1006, reconnect: false });
  expect(closes).toHaveLength(1);
  expect(retries).toEqual([1, 2]);
  await expect(connected).rejects.toBeInstanceOf(DisconnectedError);
  expectSilentAfter(c, closes);
});

it('close() while open, while reconnecting and before connecting: each emits close {1000, reconnect: false}', async () => {
  const s = await server();
  const open = client(s.url);
  await open.c.connect();
  open.c.close();
  expect(await open.stopped).toEqual({ code: 1000, reason: 'closed by client', reconnect: false });
  expect(open.closes).toHaveLength(1);
  expectSilentAfter(open.c, open.closes);

  const away = client(s.url, { reconnect: { minDelay: 60_000, maxDelay: 60_000 } });
  await away.c.connect();
  const reconnecting = new Promise<void>((resolve) => away.c.once('reconnecting', () => resolve()));
  s.closeAll(1012, 'restart');
  await reconnecting;
  away.c.close();
  expect(await away.stopped).toEqual({ code: 1000, reason: 'closed by client', reconnect: false });
  expect(away.closes.map((x) => x.reconnect)).toEqual([true, false]);
  expectSilentAfter(away.c, away.closes);

  const idle = client(s.url);
  idle.c.close();
  expect(await idle.stopped).toEqual({ code: 1000, reason: 'closed by client', reconnect: false });
  expectSilentAfter(idle.c, idle.closes);
});
