/**
 * `subscribe(name, { history: N })` against the real `@tether/server`: the last N publications on
 * the first subscribe, then live, with no gap and no duplicate — also while publications race the
 * subscribe, across a server restart, and honestly (a gap) when the namespace keeps fewer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageFrame } from '@tether/protocol';
import { createServer, signToken, sqliteBroker, type TetherServer } from '@tether/server';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type GapContext, type TetherClient } from '../src/index.js';
import { waitFor } from './fake-server.js';

const SECRET = 'history-test-secret-of-some-length-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'tether-history-'));
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
    namespaces: { short: { history: { size: 5 } }, typing: { history: false } },
    logLevel: 'silent',
    drainDelay: 0,
  });
  servers.push(server);
  return { server, port: (await server.listen()).port };
}

async function connect(port: number): Promise<TetherClient> {
  client = createClient({
    url: `ws://127.0.0.1:${port}/ws`,
    WebSocket,
    reconnect: { initialDelay: 10, maxDelay: 100 },
    token: () => signToken(SECRET, { user: 'ann' }),
  });
  await client.connect();
  return client;
}

/** Records what a subscription delivers: data and offsets, and any gap. */
function recorder() {
  const data: number[] = [];
  const offsets: number[] = [];
  const gaps: GapContext[] = [];
  return {
    data,
    offsets,
    gaps,
    onMessage: (d: number, m: MessageFrame<number>) => {
      data.push(d);
      offsets.push(m.offset);
    },
    onGap: (g: GapContext) => gaps.push(g),
  };
}

it('delivers the last N publications in order, then the live ones, each once', async () => {
  const { server, port } = await start(join(dir, 'a.db'));
  for (let i = 1; i <= 10; i++) await server.publish('room:a', i);
  const c = await connect(port);
  const rec = recorder();
  const sub = c.subscribe<number>('room:a', { ...rec, history: 4 });
  await sub.ready;
  // `ready` resolves after the history is delivered.
  expect(rec.data).toEqual([7, 8, 9, 10]);
  expect(sub.position?.offset).toBe(10);
  await server.publish('room:a', 11);
  await vi.waitFor(() => expect(rec.data).toEqual([7, 8, 9, 10, 11]));
  expect(rec.offsets).toEqual([7, 8, 9, 10, 11]);
  expect(rec.gaps).toEqual([]);
});

it('a history longer than the channel gives all of it; an empty channel gives nothing and then goes live', async () => {
  const { server, port } = await start(join(dir, 'b.db'));
  for (let i = 1; i <= 3; i++) await server.publish('room:b', i);
  const c = await connect(port);
  const all = recorder();
  const empty = recorder();
  const a = c.subscribe<number>('room:b', { ...all, history: 50 });
  const b = c.subscribe<number>('room:empty', { ...empty, history: 50 });
  await Promise.all([a.ready, b.ready]);
  expect(all.data).toEqual([1, 2, 3]);
  expect(empty.data).toEqual([]);
  await server.publish('room:empty', 1);
  await vi.waitFor(() => expect(empty.data).toEqual([1]));
  expect([...all.gaps, ...empty.gaps]).toEqual([]);
});

it('publications racing the subscribe: one contiguous run of offsets, no hole, no repeat', async () => {
  const { server, port } = await start(join(dir, 'c.db'));
  for (let i = 1; i <= 20; i++) await server.publish('room:c', i);
  const c = await connect(port);
  const rec = recorder();
  // Publish while the two-step subscribe runs, yielding to I/O between two (a SQLite publish
  // settles in microtasks alone, which would starve the sockets).
  let stop = false;
  let n = 20;
  const publisher = (async () => {
    while (!stop) {
      await server.publish('room:c', ++n);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const sub = c.subscribe<number>('room:c', { ...rec, history: 5 });
  await sub.ready;
  await vi.waitFor(() => expect(rec.data.length).toBeGreaterThan(30));
  stop = true;
  await publisher;
  await vi.waitFor(() => expect(rec.data.at(-1)).toBe(n));
  const first = rec.offsets[0] as number;
  // The history step starts 5 behind the offset the first reply saw (at least 20).
  expect(first).toBeGreaterThanOrEqual(16);
  expect(rec.offsets).toEqual(Array.from({ length: n - first + 1 }, (_, i) => first + i));
  expect(rec.data).toEqual(rec.offsets);
  expect(rec.gaps).toEqual([]);
});

it('after a server restart it recovers from where it was, not from history again', async () => {
  const file = join(dir, 'd.db');
  const first = await start(file);
  for (let i = 1; i <= 6; i++) await first.server.publish('room:d', i);
  const c = await connect(first.port);
  const rec = recorder();
  const sub = c.subscribe<number>('room:d', { ...rec, history: 3 });
  await sub.ready;
  expect(rec.data).toEqual([4, 5, 6]);
  const closed = waitFor(c, 'close');
  await first.server.close();
  servers.splice(servers.indexOf(first.server), 1);
  await closed;
  const second = await start(file, first.port);
  for (let i = 7; i <= 9; i++) await second.server.publish('room:d', i);
  await waitFor(sub, 'subscribed');
  await second.server.publish('room:d', 10);
  await vi.waitFor(() => expect(rec.data).toEqual([4, 5, 6, 7, 8, 9, 10]));
  expect(rec.gaps).toEqual([]);
});

it('a namespace keeping fewer than N: a gap is reported (reload elsewhere), then live; none kept at all likewise', async () => {
  const { server, port } = await start(join(dir, 'e.db'));
  for (let i = 1; i <= 12; i++) {
    await server.publish('short:e', i);
    await server.publish('typing:e', i);
  }
  const c = await connect(port);
  const short = recorder();
  const typing = recorder();
  const a = c.subscribe<number>('short:e', { ...short, history: 10 });
  const b = c.subscribe<number>('typing:e', { ...typing, history: 10 });
  await Promise.all([a.ready, b.ready]);
  expect(short.data).toEqual([]);
  expect(short.gaps).toMatchObject([{ channel: 'short:e', since: { offset: 2 }, offset: 12 }]);
  expect(typing.gaps).toMatchObject([{ channel: 'typing:e', since: { offset: 2 }, offset: 12 }]);
  await server.publish('short:e', 13);
  await server.publish('typing:e', 13);
  await vi.waitFor(() => expect([short.data, typing.data]).toEqual([[13], [13]]));
});

it('with since, history is ignored: it resumes from the stored position', async () => {
  const { server, port } = await start(join(dir, 'f.db'));
  for (let i = 1; i <= 8; i++) await server.publish('room:f', i);
  const c = await connect(port);
  const probe = c.subscribe('room:f');
  await probe.ready;
  const epoch = probe.position?.epoch as string;
  probe.unsubscribe();
  const rec = recorder();
  const sub = c.subscribe<number>('room:f', { ...rec, history: 5, since: { offset: 6, epoch } });
  await sub.ready;
  expect(rec.data).toEqual([7, 8]);
});
