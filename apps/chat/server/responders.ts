/**
 * The chat app's back end, loaded by `tether serve --plugin`: `namespaces` and `authorize` are
 * read before the server is created, and `setup(tether)` runs before it listens. Rooms live in
 * `rooms.ts`, the assistant in `assistant.ts`, both on the SQLite file of `db.ts`.
 * @module
 */
import { join, resolve } from 'node:path';
import type { AuthorizeHook, TetherServer } from '@tether/server';
import { type Assistant, setupAssistant } from './assistant.js';
import { type ChatDb, openChatDb } from './db.js';
import { openAiFromEnv } from './openai.js';
import { echoResponder, type Responder } from './responder.js';
import { type Rooms, setupRooms } from './rooms.js';

export { chunks, echoResponder, makeTitle, replyTo } from './responder.js';

/**
 * The namespaces the chat app needs. `room` and `chat` are published by server code only (the
 * RPCs store first); `typing` is ephemeral — no history, no presence — and published by the
 * subscribers themselves; `activity` tells every page about new rooms and messages.
 */
export const namespaces = {
  chat: { publish: 'server', presence: false },
  room: { publish: 'server', presence: true, history: { size: 200, ttl: '7d' } },
  typing: { publish: 'subscribers', presence: false, history: false, maxDataSize: 200 },
  activity: { publish: 'server', presence: false, history: { size: 100, ttl: '10m' } },
} as const;

export interface ChatOptions {
  /** The database file. @default `chat.db` in {@link dataDir} (beside the broker's `tether.db`) */
  file?: string;
  /** The assistant. @default `openai` when `TETHER_OPENAI_BASE_URL` is set (or `TETHER_CHAT_RESPONDER=openai`), else echo */
  responder?: Responder;
  /** Delay between two chunks of the echo assistant, in ms. @default 40 */
  chunkDelay?: number;
  /** Print `Tether chat: open http://localhost:<port>` once the server listens. @default false */
  announce?: boolean;
}

export interface Chat {
  readonly db: ChatDb;
  /** The `authorize` hook: `chat:<id>` only for its owner; `room:`/`typing:` only for rooms that exist. */
  authorize: AuthorizeHook;
  /** Aborts running replies: deterministic ones resume on the next start, others are marked interrupted. */
  stopReplies: () => Promise<void>;
  /** Stops the replies and closes the database. */
  close: () => Promise<void>;
}

/**
 * The data directory `tether serve` uses for its SQLite broker: `--data-dir` (a plugin runs in the
 * CLI's process), else `TETHER_DATA_DIR`, else `.data`.
 */
export function dataDir(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): string {
  let dir: string | undefined;
  argv.forEach((arg, i) => {
    if (arg === '--data-dir') dir = argv[i + 1];
    else if (arg.startsWith('--data-dir=')) dir = arg.slice('--data-dir='.length);
  });
  return resolve(dir || env.TETHER_DATA_DIR || '.data');
}

export function setupChat(tether: TetherServer, options: ChatOptions = {}): Chat {
  const file = options.file ?? join(dataDir(), 'chat.db');
  const db = openChatDb(file);
  const echo = echoResponder(options.chunkDelay ?? 40);
  const main = options.responder ?? openAiFromEnv() ?? echo;
  const byName = new Map<string, Responder>([
    [echo.name, echo],
    [main.name, main],
  ]);
  const assistant: Assistant = setupAssistant(tether, db, { default: main, byName });
  const rooms: Rooms = setupRooms(tether, db);
  tether.logger.info({ file, responder: main.name }, 'chat app set up');

  // Work a previous process left half done needs the broker, which runs once the server listens.
  tether.httpServer.once('listening', () => {
    if (options.announce) {
      const address = tether.httpServer.address();
      const port = typeof address === 'object' && address ? address.port : 8088;
      process.stdout.write(`\nTether chat: open http://localhost:${port}\n\n`);
    }
    Promise.all([rooms.recover(), assistant.recover()]).catch((err: unknown) =>
      tether.logger.error({ err }, 'chat recovery failed'),
    );
  });

  let closed: Promise<void> | undefined;
  return {
    db,
    authorize(ctx, channel) {
      const colon = channel.indexOf(':');
      const ns = channel.slice(0, colon);
      const rest = channel.slice(colon + 1);
      if (ns === 'chat') return assistant.mayUse(ctx, rest);
      if (ns === 'room' || ns === 'typing') return rooms.exists(rest);
      return true;
    },
    stopReplies: () => assistant.close(),
    close() {
      closed ??= assistant.close().finally(() => db.close());
      return closed;
    },
  };
}

let active: Chat | undefined;

/** The `tether serve --plugin` permission hook: delegates to the chat set up by {@link setup}. */
export const authorize: AuthorizeHook = (ctx, channel, action) => active?.authorize(ctx, channel, action) ?? false;

/** The `tether serve --plugin` entry point. */
export function setup(tether: TetherServer): void {
  const delay = Number(process.env.TETHER_CHAT_CHUNK_DELAY);
  const chat = setupChat(tether, { announce: true, ...(delay >= 0 && { chunkDelay: delay }) });
  active = chat;
  // The CLI drains on these signals; stop the replies first so none is left half written.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void chat.stopReplies());
}
