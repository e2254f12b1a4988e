/**
 * Rooms: a list anyone can add to, messages stored in SQLite and published on `room:<name>`,
 * room activity on `activity:rooms` (for unread counts and new rooms), and mentions pushed to
 * `user:<id>`. A message carries the sender's idempotency key: the same key is stored and
 * published once, however often it is sent (a resend after a reconnect or a reload).
 * @module
 */
import { RpcError, type TetherServer } from '@tether/server';
import { param } from './assistant.js';
import type { ChatDb, RoomMessageRow } from './db.js';

export const ACTIVITY = 'activity:rooms';
const MAX_MESSAGE = 2000;
const NAME = /^[a-z0-9][a-z0-9-]{0,29}$/;
const MENTION = /(?:^|[^\w@])@([A-Za-z0-9_.-]{1,32})/g;

/** What `room:<name>` carries and `room.history` returns. */
export interface RoomMessage {
  id: number;
  key: string;
  room: string;
  user: string;
  text: string;
  ts: number;
}

const toMessage = (r: RoomMessageRow): RoomMessage => ({
  id: r.id,
  key: r.key,
  room: r.room,
  user: r.user,
  text: r.text,
  ts: r.ts,
});

/** `Design Review` → `design-review`; undefined when nothing usable is left. */
export function roomName(input: string): string | undefined {
  const name = input
    .trim()
    .toLowerCase()
    .replace(/^#/, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30);
  return NAME.test(name) ? name : undefined;
}

/** The distinct users named with `@user` in `text`, at most five. */
export function mentions(text: string): string[] {
  return [...new Set([...text.matchAll(MENTION)].map((m) => m[1] as string))].slice(0, 5);
}

export interface Rooms {
  exists(name: string): boolean;
  /** Publishes messages stored but not yet published (a crash between the two). Call once the broker runs. */
  recover(): Promise<void>;
}

export function setupRooms(tether: TetherServer, store: ChatDb): Rooms {
  const { q } = store;

  const room = (params: unknown): string => {
    const name = param(params, 'room', 40);
    if (!q.room.get(name)) throw new RpcError('not_found', `there is no room #${name}`);
    return name;
  };

  /** Publishes a stored message, then its activity and mentions; the key makes a repeat harmless. */
  async function deliver(row: RoomMessageRow): Promise<void> {
    const message = toMessage(row);
    await tether.publish(`room:${row.room}`, message, { key: row.key });
    q.markPublished.run(row.id);
    const activity = { type: 'message', room: row.room, id: row.id, user: row.user, ts: row.ts };
    await tether.publish(ACTIVITY, activity, { key: `activity:${row.key}` });
    for (const user of mentions(row.text)) {
      if (user === row.user) continue;
      const mention = { type: 'mention', room: row.room, id: row.id, from: row.user, text: row.text, ts: row.ts };
      await tether.publish(`user:${user}`, mention, { key: `mention:${row.key}:${user}` });
    }
  }

  tether.rpc('rooms.list', () => ({
    rooms: q.rooms.all().map((r) => ({ name: r.name, createdBy: r.created_by })),
  }));

  tether.rpc('rooms.create', async (params, ctx) => {
    const name = roomName(param(params, 'name', 60));
    if (!name) throw new RpcError('bad_request', 'a room name needs letters or digits (up to 30)');
    const created = q.addRoom.run(name, ctx.user, Date.now()).changes > 0;
    if (created) await tether.publish(ACTIVITY, { type: 'room', room: name, user: ctx.user }, { key: `room:${name}` });
    return { name, created };
  });

  tether.rpc('room.send', async (params, ctx) => {
    const name = room(params);
    const key = param(params, 'key', 100);
    const text = param(params, 'text', MAX_MESSAGE).trim();
    const seen = q.byKey.get(key);
    if (seen && (seen.user !== ctx.user || seen.room !== name))
      throw new RpcError('bad_request', 'that key belongs to another message');
    const row = seen ?? (q.addMessage.get(name, key, ctx.user, text, Date.now()) as RoomMessageRow);
    if (!row.published) await deliver(row);
    return { id: row.id, ts: row.ts, duplicate: seen !== undefined };
  });

  /** Older messages of a room: the `limit` newest with an id below `before` (default: all), oldest first. */
  tether.rpc('room.history', (params) => {
    const name = room(params);
    const p = params as { before?: unknown; limit?: unknown };
    const before = typeof p.before === 'number' && p.before > 0 ? p.before : Number.MAX_SAFE_INTEGER;
    const limit = typeof p.limit === 'number' && p.limit > 0 ? Math.min(100, Math.floor(p.limit)) : 50;
    const rows = q.page.all(name, before, limit + 1);
    return { messages: rows.slice(0, limit).reverse().map(toMessage), more: rows.length > limit };
  });

  return {
    exists: (name) => q.room.get(name) !== undefined,
    async recover() {
      for (const row of q.unpublished.all()) await deliver(row);
    },
  };
}
