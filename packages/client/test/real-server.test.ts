/**
 * The client against the real `@tether/server`: connect with a JWT, subscribe, publish, rpc; then
 * kill the server and restart it on the same port and database while publications happen, and get
 * exactly those publications once, in order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { msgpackCodec } from '@tether/protocol/msgpack';
import { createServer, signToken, sqliteBroker, type TetherServer } from '@tether/server';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type TetherClient } from '../src/index.js';
import { waitFor } from './fake-server.js';

const SECRET = 'client-test-secret-of-some-length-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'tether-client-'));
const servers: TetherServer[] = [];
let client: TetherClient | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(file: string, port = 0): Promise<{ server: TetherServer; port: number }> {
  const server = createServer({
    host: '127.0.0.1',
    port,
    auth: { jwtSecret: SECRET },
    broker: sqliteBroker({ file }),
    logLevel: 'silent',
    drainDelay: 0,
  });
  servers.push(server);
  server.rpc('add', (params) => {
    const { a, b } = params as { a: number; b: number };
    return a + b;
  });
  const address = await server.listen();
  return { server, port: address.port };
}

it('connects, subscribes, publishes and calls rpc against the real server', async () => {
  const { port } = await start(join(dir, 'a.db'));
  client = createClient({
    url: `ws://127.0.0.1:${port}/ws`,
    WebSocket,
    token: () => signToken(SECRET, { user: 'ann' }),
  });
  await client.connect();
  const got: unknown[] = [];
  const sub = client.subscribe('room:lobby', { onMessage: (d) => got.push(d) });
  await sub.ready;
  const res = await sub.publish({ text: 'hi' });
  expect(res.offset).toBe(1);
  await vi.waitFor(() => expect(got).toEqual([{ text: 'hi' }]));
  expect(await client.rpc('add', { a: 2, b: 3 })).toBe(5);
  expect(await client.ping()).toBeGreaterThanOrEqual(0);
});

it('Node: the token can travel as an Authorization header instead of the query parameter', async () => {
  const { port } = await start(join(dir, 'h.db'));
  const urls: string[] = [];
  class Recording extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
      urls.push(url);
      super(url, protocols, options);
    }
  }
  client = createClient({
    url: `ws://127.0.0.1:${port}/ws`,
    WebSocket: Recording,
    authHeader: true,
    token: () => signToken(SECRET, { user: 'bob' }),
  });
  await client.connect();
  expect(urls).toEqual([`ws://127.0.0.1:${port}/ws`]);
  expect(await client.rpc('add', { a: 1, b: 2 })).toBe(3);
});

it('speaks MessagePack when given the opt-in codec object', async () => {
  const { port } = await start(join(dir, 'm.db'));
  client = createClient({
    url: `ws://127.0.0.1:${port}/ws`,
    WebSocket,
    codec: msgpackCodec,
    token: () => signToken(SECRET, { user: 'ann' }),
  });
  await client.connect();
  expect(client.plain).toBe(false);
  const got: unknown[] = [];
  const sub = client.subscribe('room:bin', { onMessage: (d) => got.push(d) });
  await sub.ready;
  await sub.publish({ bytes: new Uint8Array([1, 2, 3]), n: 1 });
  await vi.waitFor(() => expect(got).toHaveLength(1));
  expect(got[0]).toMatchObject({ n: 1 });
  expect(await client.rpc('add', { a: 1, b: 1 })).toBe(2);
});

it('kill and restart on the same port: the publications made meanwhile arrive exactly once, in order', async () => {
  const file = join(dir, 'b.db');
  const first = await start(file);
  const port = first.port;
  // The token getter is the gate: while it waits, the client cannot reconnect.
  let gate: Promise<void> = Promise.resolve();
  client = createClient({
    url: `ws://127.0.0.1:${port}/ws`,
    WebSocket,
    reconnect: { initialDelay: 10, maxDelay: 100 },
    token: async () => {
      await gate;
      return signToken(SECRET, { user: 'ann' });
    },
  });
  const c = client;
  const got: number[] = [];
  const gaps: unknown[] = [];
  const sub = c.subscribe<number>('room:r', { onMessage: (n) => got.push(n), onGap: (g) => gaps.push(g) });
  await c.connect();
  await sub.ready;
  await first.server.publish('room:r', 1);
  await vi.waitFor(() => expect(got).toEqual([1]));

  let open = (): void => {};
  gate = new Promise((resolve) => {
    open = resolve;
  });
  const closed = waitFor(c, 'close');
  await first.server.close();
  servers.splice(servers.indexOf(first.server), 1);
  expect((await closed)[0].code).toBe(1012);

  const second = await start(file, port);
  for (let i = 2; i <= 21; i++) await second.server.publish('room:r', i);
  const resubscribed = waitFor(sub, 'subscribed');
  open();
  const [ctx] = await resubscribed;
  expect(ctx.recovered).toBe(true);
  await second.server.publish('room:r', 22);
  await vi.waitFor(() => expect(got.at(-1)).toBe(22));
  expect(got).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
  expect(gaps).toEqual([]);
});

it('refreshes its token before it expires, so the server never closes the connection with 4001', async () => {
  const { port } = await start(join(dir, 'refresh.db'));
  let issued = 0;
  client = createClient({
    url: `ws://127.0.0.1:${port}/ws`,
    WebSocket,
    // Two-second tokens: without a refresh the server would close with 4001 at the first one's expiry.
    token: () => {
      issued++;
      return signToken(SECRET, { user: 'ann', expiresIn: 2 });
    },
  });
  const closes: unknown[] = [];
  client.on('close', (ctx) => closes.push(ctx));
  let firstExpiry = 0;
  client.once('open', (ctx) => {
    firstExpiry = ctx.welcome?.expiresAt ?? 0;
  });
  await client.connect();
  expect(firstExpiry).toBeGreaterThan(Date.now());
  // The second refresh comes after the first token's expiry has passed: the connection outlived it.
  await vi.waitFor(() => expect(issued).toBeGreaterThanOrEqual(3), { timeout: 8000, interval: 50 });
  expect(Date.now()).toBeGreaterThan(firstExpiry);
  expect(await client.rpc('add', { a: 1, b: 2 })).toBe(3);
  expect(closes).toEqual([]);
  expect(client.state).toBe('open');
  expect(client.stats.reconnects).toBe(0);
});
