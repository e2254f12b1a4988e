/**
 * `tether serve --plugin` with the chat module, in a child process as `npm start` runs it: the
 * first-run line, the namespaces and `authorize` it exports, and the rooms RPCs over a real socket.
 */
import { rm } from 'node:fs/promises';
import { createClient, type TetherClient } from '@tether/client';
import { signToken } from '@tether/server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { SECRET, type ServerProcess, startServer } from './harness.js';

let server: ServerProcess;
const clients: TetherClient[] = [];

beforeAll(async () => {
  server = await startServer({});
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop('SIGTERM');
  if (server) await rm(server.dataDir, { recursive: true, force: true });
});

async function connect(user: string): Promise<TetherClient> {
  const client = createClient({
    url: `ws://127.0.0.1:${server.port}/ws`,
    token: () => signToken(SECRET, { user }),
    WebSocket,
  });
  clients.push(client);
  await client.connect();
  return client;
}

/** Resolves with the first `n` publications on `channel`. */
function collect(client: TetherClient, channel: string) {
  const got: unknown[] = [];
  const sub = client.subscribe(channel, { onMessage: (d) => got.push(d) });
  return { got, ready: sub.ready };
}

it('prints where to go before anything else a person needs', () => {
  expect(server.output()).toContain(`Tether chat: open http://localhost:${server.port}\n`);
});

it('stores a room message once per key, publishes it once, and pushes mentions to user:<id>', async () => {
  const ann = await connect('ann');
  const bob = await connect('bob');
  const room = collect(bob, 'room:lobby');
  const mentions = collect(bob, 'user:bob');
  await Promise.all([room.ready, mentions.ready]);

  const params = { room: 'lobby', key: 'k-1', text: 'hi @bob, see #random' };
  const first = await ann.rpc<{ id: number; duplicate: boolean }>('room.send', params);
  const again = await ann.rpc<{ id: number; duplicate: boolean }>('room.send', params);
  expect(again).toMatchObject({ id: first.id, duplicate: true });
  expect(first.duplicate).toBe(false);
  await expect
    .poll(() => mentions.got)
    .toEqual([expect.objectContaining({ type: 'mention', room: 'lobby', from: 'ann' })]);
  expect(room.got).toEqual([expect.objectContaining({ id: first.id, key: 'k-1', user: 'ann', text: params.text })]);

  const history = await bob.rpc<{ messages: { id: number }[]; more: boolean }>('room.history', { room: 'lobby' });
  expect(history.messages.map((m) => m.id)).toEqual([first.id]);
  // Another user may not reuse a key to rewrite someone's message.
  await expect(bob.rpc('room.send', { ...params, text: 'forged' })).rejects.toMatchObject({ code: 'bad_request' });
  await expect(ann.rpc('room.send', { room: 'nowhere', key: 'k-2', text: 'x' })).rejects.toMatchObject({
    code: 'not_found',
  });
});

it('creates rooms by name and tells every page on activity:rooms', async () => {
  const ann = await connect('ann');
  const activity = collect(ann, 'activity:rooms');
  await activity.ready;
  await expect(ann.rpc('rooms.create', { name: '  Design Review ' })).resolves.toEqual({
    name: 'design-review',
    created: true,
  });
  await expect(ann.rpc('rooms.create', { name: 'design review' })).resolves.toMatchObject({ created: false });
  await expect(ann.rpc('rooms.create', { name: '!!!' })).rejects.toMatchObject({ code: 'bad_request' });
  const list = await ann.rpc<{ rooms: { name: string }[] }>('rooms.list');
  expect(list.rooms.map((r) => r.name)).toEqual(['lobby', 'random', 'design-review']);
  await expect.poll(() => activity.got).toEqual([{ type: 'room', room: 'design-review', user: 'ann' }]);
});

it('applies the plugin namespaces and authorize hook', async () => {
  const ann = await connect('ann');
  // `chat` and `room` are published by server code only; a client cannot forge a reply or a message.
  const chat = ann.subscribe('chat:x');
  await chat.ready;
  await expect(chat.publish({ forged: true })).rejects.toMatchObject({ code: 'forbidden' });
  await expect(ann.publish('room:lobby', { text: 'forged' })).rejects.toMatchObject({ code: 'forbidden' });
  // Typing is published by the subscribers themselves, and only for rooms that exist.
  const typing = ann.subscribe('typing:lobby');
  await typing.ready;
  await expect(typing.publish({ user: 'ann', typing: true })).resolves.toMatchObject({ offset: 1 });
  await expect(ann.subscribe('typing:nowhere').ready).rejects.toMatchObject({ code: 'forbidden' });
  // Typing keeps no history: a later subscriber recovering from offset 0 gets nothing back.
  const late = await connect('cid');
  const replay: unknown[] = [];
  const sub = late.subscribe('typing:lobby', {
    since: { offset: 0, epoch: (await typing.publish({ user: 'ann', typing: false })).epoch },
    onMessage: (d) => replay.push(d),
  });
  await sub.ready;
  expect(replay).toEqual([]);
  // Someone else's assistant session is refused.
  const bob = await connect('bob');
  await expect(bob.subscribe('chat:x').ready).rejects.toMatchObject({ code: 'forbidden' });
});
