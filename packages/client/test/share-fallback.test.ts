/**
 * `@tether/client/share` where there is nothing to share with: in Node (no page, no Web Locks)
 * `share: 'tabs'` quietly gives the per-tab client of `@tether/client`, which works as ever
 * against a real server. Also the entry's public surface.
 */
import * as share from '@tether/client/share';
import { createServer, signToken, type TetherServer } from '@tether/server';
import { afterEach, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';

const SECRET = 'share-fallback-secret-of-some-length-0123456789';
let server: TetherServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('exports exactly the documented runtime names', () => {
  expect(Object.keys(share).sort()).toEqual(['canShare', 'createClient', 'createSharedClient']);
  expect(share.createSharedClient).toBe(share.createClient);
});

it('in Node, share: "tabs" is a connection of its own: subscribe, publish, rpc', async () => {
  expect(share.canShare()).toBe(false);
  server = createServer({ host: '127.0.0.1', port: 0, auth: { jwtSecret: SECRET }, logLevel: 'silent', drainDelay: 0 });
  server.rpc('add', (p) => (p as { a: number; b: number }).a + (p as { a: number; b: number }).b);
  const { port } = await server.listen();
  const client = share.createClient({
    url: `ws://127.0.0.1:${port}/ws`,
    WebSocket,
    token: () => signToken(SECRET, { user: 'ann' }),
    share: 'tabs',
  });
  try {
    await client.connect();
    const got: unknown[] = [];
    const sub = client.subscribe('room:lobby', { onMessage: (d) => got.push(d) });
    await sub.ready;
    await sub.publish({ text: 'hi' });
    await vi.waitFor(() => expect(got).toEqual([{ text: 'hi' }]));
    expect(await client.rpc('add', { a: 2, b: 3 })).toBe(5);
  } finally {
    client.close();
  }
});
