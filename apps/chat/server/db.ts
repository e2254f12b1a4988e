/**
 * The chat app's own SQLite database (`chat.db` beside the broker's `tether.db` under
 * `TETHER_DATA_DIR`): rooms and their messages, assistant sessions, their titles and messages.
 * Migrations are numbered SQL steps tracked by `PRAGMA user_version`; docs/CHAT.md lists them.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** Each step runs once, in a transaction, in order; never edit a step that shipped — add one. */
export const MIGRATIONS: readonly string[] = [
  // 1: rooms, room messages, assistant sessions and their messages.
  `CREATE TABLE rooms (
     name TEXT PRIMARY KEY,
     created_by TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE room_messages (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     room TEXT NOT NULL REFERENCES rooms(name),
     key TEXT NOT NULL UNIQUE,
     user TEXT NOT NULL,
     text TEXT NOT NULL,
     ts INTEGER NOT NULL,
     published INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX room_messages_by_room ON room_messages (room, id);
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     title TEXT,
     responder TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX sessions_by_owner ON sessions (owner, updated_at);
   CREATE TABLE session_messages (
     session_id TEXT NOT NULL REFERENCES sessions(id),
     seq INTEGER NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
     content TEXT NOT NULL,
     event_id TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('streaming', 'done', 'cancelled', 'error')),
     chunks INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     PRIMARY KEY (session_id, seq)
   );
   INSERT INTO rooms (name, created_by, created_at) VALUES ('lobby', NULL, 0), ('random', NULL, 0);`,
];

export interface RoomRow {
  name: string;
  created_by: string | null;
  created_at: number;
}

export interface RoomMessageRow {
  id: number;
  room: string;
  key: string;
  user: string;
  text: string;
  ts: number;
  published: number;
}

export interface SessionRow {
  id: string;
  owner: string;
  title: string | null;
  responder: string;
  created_at: number;
  updated_at: number;
}

export type MessageStatus = 'streaming' | 'done' | 'cancelled' | 'error';

export interface SessionMessageRow {
  session_id: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  event_id: string;
  status: MessageStatus;
  chunks: number;
  error: string | null;
}

/** Opens (creating when needed) and migrates the database at `file` (`:memory:` for tests). */
export function openChatDb(file: string) {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    db.close();
    throw new Error(
      `${file} has schema version ${version}, newer than this chat app knows (${MIGRATIONS.length}): run a newer Tether or restore a backup`,
    );
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }

  const q = {
    rooms: db.prepare<[], RoomRow>('SELECT * FROM rooms ORDER BY created_at, name'),
    room: db.prepare<[string], RoomRow>('SELECT * FROM rooms WHERE name = ?'),
    addRoom: db.prepare<[string, string, number]>(
      'INSERT OR IGNORE INTO rooms (name, created_by, created_at) VALUES (?, ?, ?)',
    ),
    byKey: db.prepare<[string], RoomMessageRow>('SELECT * FROM room_messages WHERE key = ?'),
    addMessage: db.prepare<[string, string, string, string, number], RoomMessageRow>(
      'INSERT INTO room_messages (room, key, user, text, ts) VALUES (?, ?, ?, ?, ?) RETURNING *',
    ),
    markPublished: db.prepare<[number]>('UPDATE room_messages SET published = 1 WHERE id = ?'),
    unpublished: db.prepare<[], RoomMessageRow>('SELECT * FROM room_messages WHERE published = 0 ORDER BY id'),
    page: db.prepare<[string, number, number], RoomMessageRow>(
      'SELECT * FROM room_messages WHERE room = ? AND id < ? ORDER BY id DESC LIMIT ?',
    ),
    session: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE id = ?'),
    addSession: db.prepare<[string, string, string, number, number]>(
      'INSERT OR IGNORE INTO sessions (id, owner, responder, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
    ),
    touchSession: db.prepare<[number, string]>('UPDATE sessions SET updated_at = ? WHERE id = ?'),
    setTitle: db.prepare<[string, string]>('UPDATE sessions SET title = ? WHERE id = ?'),
    sessionsOf: db.prepare<[string], SessionRow & { first: string | null }>(
      `SELECT s.*, (SELECT content FROM session_messages m WHERE m.session_id = s.id AND m.role = 'user'
                    ORDER BY seq LIMIT 1) AS first
         FROM sessions s WHERE s.owner = ? AND EXISTS (SELECT 1 FROM session_messages m WHERE m.session_id = s.id)
        ORDER BY s.updated_at DESC LIMIT 200`,
    ),
    messages: db.prepare<[string], SessionMessageRow>(
      'SELECT * FROM session_messages WHERE session_id = ? ORDER BY seq',
    ),
    nextSeq: db.prepare<[string], { n: number }>(
      'SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM session_messages WHERE session_id = ?',
    ),
    addTurn: db.prepare<[string, number, string, string, string, MessageStatus]>(
      'INSERT INTO session_messages (session_id, seq, role, content, event_id, status) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    answer: db.prepare<[string, string], SessionMessageRow>(
      "SELECT * FROM session_messages WHERE session_id = ? AND event_id = ? AND role = 'assistant'",
    ),
    chunk: db.prepare<[string, number, string, string]>(
      `UPDATE session_messages SET content = content || ?, chunks = ?
        WHERE session_id = ? AND event_id = ? AND role = 'assistant' AND status = 'streaming'`,
    ),
    finish: db.prepare<[MessageStatus, string | null, string, string]>(
      `UPDATE session_messages SET status = ?, error = ?
        WHERE session_id = ? AND event_id = ? AND role = 'assistant' AND status = 'streaming'`,
    ),
    forget: db.prepare<[string, string]>('DELETE FROM session_messages WHERE session_id = ? AND event_id = ?'),
    streaming: db.prepare<[], SessionMessageRow>(
      "SELECT * FROM session_messages WHERE role = 'assistant' AND status = 'streaming' ORDER BY session_id, seq",
    ),
  };
  return { db, q, close: () => db.close() };
}

export type ChatDb = ReturnType<typeof openChatDb>;
