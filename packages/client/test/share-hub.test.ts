/**
 * The hub and a tab joined directly (no browser API involved), against a real server on
 * loopback: what crosses between them keeps its meaning — a refused subscribe, a server error's
 * class and code — and a publish whose hub went away before answering is asked again of the next
 * hub with the same key, so it is published once.
 */
import { createServer, signToken, type TetherServer } from '@tether/server';
import { afterEach, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { ServerError } from '../src/errors.js';
import { createHub, type Hub } from '../src/share/hub.js';
import type { HubMessage, TabMessage } from '../src/share/messages.js';
import { createTab, type Tab } from '../src/share/tab.js';
import type { ClientOptions } from '../src/types.js';

const SECRET = 'share-hub-secret-of-some-length-0123456789';
let server: TetherServer | undefined;
const hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) h.close();
  await server?.close();
  server = undefined;
});

async function start(): Promise<ClientOptions> {
  server = createServer({
    host: '127.0.0.1',
    port: 0,
    auth: { jwtSecret: SECRET },
    logLevel: 'silent',
    drainDelay: 0,
    namespaces: { secret: { subscribe: 'nobody' }, open: { publish: 'clients' } },
  });
  server.rpc('fail', () => {
    throw new Error('no');
  });
  const { port } = await server.listen();
  return { url: `ws://127.0.0.1:${port}/ws`, WebSocket, token: await signToken(SECRET, { user: 'ann' }) };
}

/** A hub in this process for `tab`, as the leader tab has one; returns how to let it go. */
function join(
  tab: Tab,
  options: ClientOptions,
  lose: (m: HubMessage) => boolean = () => false,
): { hub: Hub; link: { post: (m: TabMessage) => void } } {
  const to = (m: HubMessage): void => {
    if (!lose(m)) rx(m);
  };
  const hub = createHub(options, { send: (_, m) => to(m), sendMany: (_, m) => to(m) }, false);
  hubs.push(hub);
  const link = { post: (m: TabMessage) => queueMicrotask(() => hub.receive('t', m)) };
  const rx = tab.attach(link);
  return { hub, link };
}

it('a refused subscribe and a failing rpc arrive as the same errors as without sharing', async () => {
  const options = await start();
  const tab = createTab(options);
  join(tab, options);
  await tab.client.connect();
  const sub = tab.client.subscribe('secret:x');
  const err = await sub.ready.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ServerError);
  expect((err as ServerError).code).toBe('forbidden');
  expect(sub.state).toBe('unsubscribed');
  const failed = await tab.client.rpc('fail').catch((e: unknown) => e);
  expect(failed).toBeInstanceOf(ServerError);
  expect(await tab.client.rpc('missing').catch((e: ServerError) => e.code)).toBe('not_found');
});

it('a publish the hub took but never answered is asked again of the next hub and published once', async () => {
  const options = await start();
  const watcher = createTab(options);
  join(watcher, options);
  await watcher.client.connect();
  const seen: number[] = [];
  const ws = watcher.client.subscribe<number>('open:p', { onMessage: (n) => seen.push(n) });
  await ws.ready;

  const tab = createTab(options);
  // The first hub publishes, and goes before its answer reaches the tab.
  const first = join(tab, options, (m) => m.t === 'res');
  await tab.client.connect();
  let settled = false;
  const sent = tab.client.publish('open:p', 7).finally(() => {
    settled = true;
  });
  await vi.waitFor(() => expect(seen).toEqual([7]));
  expect(settled).toBe(false);
  tab.detach(first.link);
  join(tab, options);
  const result = await sent;
  await server!.publish('open:p', 8);
  await vi.waitFor(() => expect(seen).toEqual([7, 8]));
  expect(result.offset).toBe(1);
});

it('history: the tab that opens the channel gets its last N publications, then live, once each', async () => {
  const options = await start();
  for (const n of [1, 2, 3, 4]) await server!.publish('room:h', n);
  const tab = createTab(options);
  join(tab, options);
  await tab.client.connect();
  const got: number[] = [];
  const gaps: unknown[] = [];
  const sub = tab.client.subscribe<number>('room:h', {
    history: 2,
    onMessage: (n) => got.push(n),
    onGap: (g) => gaps.push(g),
  });
  await sub.ready;
  await vi.waitFor(() => expect(got).toEqual([3, 4]));
  await server!.publish('room:h', 5);
  await vi.waitFor(() => expect(got).toEqual([3, 4, 5]));
  expect(gaps).toEqual([]);
});
