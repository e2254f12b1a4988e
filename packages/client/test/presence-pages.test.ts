/**
 * `sub.presence()` and `sub.presencePage()` against the real `@tether/server` with a small
 * `maxPresencePage`: the list comes whole however many pages it takes, and a page walk by hand
 * returns every entry once, in connection-id order, with `next` absent on the last page.
 */
import { createServer, signToken, type TetherServer } from '@tether/server';
import { afterEach, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type PresenceClient, type TetherClient } from '../src/index.js';

const SECRET = 'presence-pages-secret-of-some-length-0123456789';
let server: TetherServer | undefined;
const clients: TetherClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close();
  server = undefined;
});

async function start(maxPresencePage: number): Promise<number> {
  server = createServer({
    host: '127.0.0.1',
    port: 0,
    auth: { jwtSecret: SECRET },
    maxPresencePage,
    logLevel: 'silent',
    drainDelay: 0,
  });
  return (await server.listen()).port;
}

/** `n` clients, each subscribed to `channel` (a namespace with presence on by default). */
async function crowd(port: number, channel: string, n: number) {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const c = createClient({
        url: `ws://127.0.0.1:${port}/ws`,
        WebSocket,
        token: () => signToken(SECRET, { user: `u${i}` }),
      });
      clients.push(c);
      await c.connect();
      const sub = c.subscribe(channel);
      await sub.ready;
      return sub;
    }),
  );
}

const ids = (list: readonly PresenceClient[]) => list.map((e) => e.connectionId);

it('presence() returns every entry across pages of the server maximum', async () => {
  const port = await start(3);
  const subs = await crowd(port, 'room:big', 8);
  const sub = subs[0];
  if (!sub) throw new Error('no subscription');
  const all = await sub.presence();
  expect(all).toHaveLength(8);
  expect(new Set(ids(all)).size).toBe(8);
  expect(new Set(all.map((e) => e.user))).toEqual(new Set(Array.from({ length: 8 }, (_, i) => `u${i}`)));
  // In connection-id order: the server's page order.
  expect(ids(all)).toEqual([...ids(all)].sort());
});

it('presencePage() walks pages by cursor: limit honoured, lowered to the maximum, next absent at the end', async () => {
  const port = await start(3);
  const [sub] = await crowd(port, 'room:walk', 7);
  if (!sub) throw new Error('no subscription');

  const first = await sub.presencePage({ limit: 2 });
  expect(first.clients).toHaveLength(2);
  expect(typeof first.next).toBe('string');

  // A limit above the server's maximum is lowered to it.
  const second = await sub.presencePage({ limit: 50, cursor: first.next });
  expect(second.clients).toHaveLength(3);

  const third = await sub.presencePage({ cursor: second.next });
  expect(third.clients).toHaveLength(2);
  expect(third.next).toBeUndefined();

  const walked = [...first.clients, ...second.clients, ...third.clients];
  expect(ids(walked)).toEqual(ids(await sub.presence()));
});

it('a cursor the server did not hand out is refused with bad_request; the connection stays open', async () => {
  const port = await start(3);
  const [sub] = await crowd(port, 'room:bad', 1);
  if (!sub) throw new Error('no subscription');
  await expect(sub.presencePage({ cursor: 'not a cursor!' })).rejects.toMatchObject({ code: 'bad_request' });
  expect(await sub.presence()).toHaveLength(1);
});
