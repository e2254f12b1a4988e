/**
 * chat.db migrations on a real file: a fresh database gets every step, reopening runs none again
 * and keeps the data, and a database from a newer app is refused rather than misread.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { MIGRATIONS, openChatDb } from '../server/db.js';

const dir = mkdtempSync(join(tmpdir(), 'tether-chat-db-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a fresh file is migrated to the latest version; reopening keeps the data and runs nothing twice', () => {
  const file = join(dir, 'nested', 'chat.db');
  const first = openChatDb(file);
  expect(first.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
  expect(first.db.pragma('journal_mode', { simple: true })).toBe('wal');
  first.q.addMessage.get('lobby', 'k1', 'ann', 'hello', 1);
  first.close();

  const again = openChatDb(file);
  expect(again.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
  expect(again.q.rooms.all().map((r) => r.name)).toEqual(['lobby', 'random']);
  expect(again.q.byKey.get('k1')).toMatchObject({ room: 'lobby', user: 'ann', text: 'hello', published: 0 });
  again.close();
});

it('a database written by a newer app is refused with the versions named', () => {
  const file = join(dir, 'newer.db');
  const raw = new Database(file);
  raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  raw.close();
  expect(() => openChatDb(file)).toThrow(`schema version ${MIGRATIONS.length + 1}, newer than this chat app knows`);
});
