/**
 * The SQLite broker: durable history for one node. Offsets, epochs, publications and idempotency
 * keys live in one SQLite file (WAL mode), so a restarted server keeps every channel's epoch and
 * history and can still recover clients that were away across the restart.
 *
 * One process per file: fan-out (`publication` events) happens inside the process that published.
 * For several nodes use the Redis broker (`@tether/redis`). Presence is not stored here: an entry
 * describes a live connection of this very process, so the server keeps it in memory
 * (`createMemoryPresence` from `@tether/broker`), where it vanishes with the process.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  type Broker,
  type BrokerEvents,
  type BrokerPublishOptions,
  BrokerUnavailableError,
  type HistoryQuery,
  type HistoryResult,
  newEpoch,
  type Publication,
  type PublishOutcome,
} from '@tether/broker';
import type Database from 'better-sqlite3';
import { openDatabase } from './open-database.js';

export interface SqliteBrokerOptions {
  /** Path of the database file (its folder is created if missing), or `':memory:'` for tests. */
  file: string;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  /**
   * Path of better-sqlite3's compiled `better_sqlite3.node`, for bundled deployments where it is
   * not beside the package. @default better-sqlite3 finds its own
   */
  nativeBinding?: string;
  /** How often expired history, idempotency keys and idle channels are swept, in ms. @default 30_000 */
  sweepInterval?: number;
  /**
   * How long a channel with no retained history and no live keys keeps its offset counter and
   * epoch after its last publication, in ms. After that it is forgotten and starts a new epoch.
   * @default 86_400_000 (24 h)
   */
  idleChannelTtl?: number;
  /**
   * `NORMAL` survives a process crash (SIGKILL) without losing a committed publication — WAL
   * frames are in the OS before `publish` resolves — but may lose the last ones on power loss.
   * `FULL` fsyncs every commit and survives power loss too, at a few ms per publication.
   * @default 'NORMAL'
   */
  synchronous?: 'NORMAL' | 'FULL';
  /**
   * How long a write waits for a lock held by another connection (a backup, an admin shell)
   * before it fails with `BrokerUnavailableError`, in ms.
   * @default 5000
   */
  busyTimeout?: number;
}

interface ChannelRow {
  epoch: string;
  head: number;
}

interface PublicationRow {
  seq: number;
  data: string;
  sender: string | null;
  ts: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS channels (
  name TEXT PRIMARY KEY,
  epoch TEXT NOT NULL,
  head INTEGER NOT NULL,          -- the latest offset
  history_ttl INTEGER NOT NULL,   -- ms, from the latest publish
  updated INTEGER NOT NULL        -- ms, the latest publish (or creation)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS publications (
  channel TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data TEXT NOT NULL,             -- JSON
  sender TEXT,                    -- the frame's \`from\`
  ts INTEGER NOT NULL,
  PRIMARY KEY (channel, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency_keys (
  channel TEXT NOT NULL,
  key TEXT NOT NULL,
  publication TEXT NOT NULL,      -- the original frame, JSON: it must outlive the history entry
  expires INTEGER NOT NULL,
  PRIMARY KEY (channel, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_keys_expires ON idempotency_keys (expires);
`;

/**
 * Creates a broker that keeps offsets, epochs, history and idempotency keys in a SQLite file.
 * @example
 * ```ts
 * const tether = createServer({ broker: createSqliteBroker({ file: './data/tether.db' }) });
 * ```
 */
export function createSqliteBroker(options: SqliteBrokerOptions): Broker {
  if (typeof options?.file !== 'string' || options.file === '')
    throw new TypeError('createSqliteBroker: `file` must be a path to the database file (or ":memory:")');
  const now = options.now ?? Date.now;
  const sweepInterval = options.sweepInterval ?? 30_000;
  const idleChannelTtl = options.idleChannelTtl ?? 86_400_000;
  const subscribed = new Set<string>();
  let events: BrokerEvents | undefined;
  let db: Database.Database | undefined;
  let sweeper: ReturnType<typeof setInterval> | undefined;
  let closed = false;

  let stmt: ReturnType<typeof prepare> | undefined;
  function prepare(d: Database.Database) {
    return {
      ensureChannel: d.prepare<[string, string, number]>(
        'INSERT OR IGNORE INTO channels (name, epoch, head, history_ttl, updated) VALUES (?, ?, 0, 0, ?)',
      ),
      advance: d.prepare<[number, number, string], ChannelRow>(
        'UPDATE channels SET head = head + 1, history_ttl = ?, updated = ? WHERE name = ? RETURNING epoch, head',
      ),
      channel: d.prepare<[string], ChannelRow & { history_ttl: number }>(
        'SELECT epoch, head, history_ttl FROM channels WHERE name = ?',
      ),
      findKey: d.prepare<[string, string, number], { publication: string }>(
        'SELECT publication FROM idempotency_keys WHERE channel = ? AND key = ? AND expires > ?',
      ),
      putKey: d.prepare<[string, string, string, number]>(
        'INSERT OR REPLACE INTO idempotency_keys (channel, key, publication, expires) VALUES (?, ?, ?, ?)',
      ),
      append: d.prepare<[string, number, string, string | null, number]>(
        'INSERT INTO publications (channel, seq, data, sender, ts) VALUES (?, ?, ?, ?, ?)',
      ),
      trimSize: d.prepare<[string, number]>('DELETE FROM publications WHERE channel = ? AND seq <= ?'),
      trimAge: d.prepare<[string, number]>('DELETE FROM publications WHERE channel = ? AND ts <= ?'),
      read: d.prepare<[string, number, number], PublicationRow>(
        'SELECT seq, data, sender, ts FROM publications WHERE channel = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      touch: d.prepare<[number, string]>('UPDATE channels SET updated = ? WHERE name = ?'),
      sweepKeys: d.prepare<[number]>('DELETE FROM idempotency_keys WHERE expires <= ?'),
      sweepHistory: d.prepare<[number]>(
        `DELETE FROM publications WHERE ts <= ? - (SELECT history_ttl FROM channels WHERE name = publications.channel)`,
      ),
      sweepChannels: d.prepare<[number]>(
        `DELETE FROM channels WHERE updated <= ?
           AND NOT EXISTS (SELECT 1 FROM publications p WHERE p.channel = channels.name)
           AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.channel = channels.name)`,
      ),
    };
  }

  const open = (): { d: Database.Database; s: ReturnType<typeof prepare> } => {
    if (closed || !db || !stmt) throw new BrokerUnavailableError('the SQLite broker is closed');
    return { d: db, s: stmt };
  };

  /** SQLite trouble that a retry later may not meet (locked, busy, full, I/O) is "unavailable", not a bug. */
  const transient = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY)/.test(code))
        throw new BrokerUnavailableError(`SQLite cannot serve this now (${code})`, { cause: error });
      throw error;
    }
  };

  const toPublication = (channel: string, epoch: string, row: PublicationRow): Publication => {
    const p: Publication = { type: 'message', channel, offset: row.seq, epoch, data: JSON.parse(row.data), ts: row.ts };
    if (row.sender !== null) p.from = row.sender;
    return p;
  };

  const sweep = (): void => {
    if (closed || !stmt || !db) return;
    const s = stmt;
    const t = now();
    // A failing sweep (busy file, full disk) must not take the process down from a timer;
    // the next sweep tries again, and publish/history report the same trouble to callers.
    try {
      sweepTx(s, t);
    } catch {}
  };

  const sweepTx = (s: NonNullable<typeof stmt>, t: number): void => {
    (db as Database.Database).transaction(() => {
      for (const name of subscribed) s.touch.run(t, name);
      s.sweepKeys.run(t);
      s.sweepHistory.run(t);
      // An idle channel that has nothing left to recover is forgotten, unless this node still
      // serves subscribers on it; coming back, it starts a new epoch, which tells any client
      // holding an old offset that its position is gone.
      s.sweepChannels.run(t - idleChannelTtl);
    })();
  };

  let publishTx: ((name: string, data: unknown, opts: BrokerPublishOptions) => PublishOutcome) | undefined;

  return {
    name: 'sqlite',
    async start(handlers) {
      if (db) throw new TypeError('createSqliteBroker: start() was already called');
      if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
      const d = openDatabase(options.file, options.nativeBinding);
      d.pragma('journal_mode = WAL');
      d.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
      // Another process (a CLI, a backup) holding a read lock should delay a write, not fail it.
      d.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeout ?? 5000))}`);
      d.exec(SCHEMA);
      db = d;
      const s = prepare(d);
      stmt = s;
      events = handlers;
      publishTx = d.transaction((name: string, data: unknown, opts: BrokerPublishOptions): PublishOutcome => {
        const t = now();
        if (opts.key !== undefined) {
          const seen = s.findKey.get(name, opts.key, t);
          if (seen) return { publication: JSON.parse(seen.publication) as Publication, duplicate: true };
        }
        s.ensureChannel.run(name, newEpoch(), t);
        const row = s.advance.get(opts.historyTtl, t, name) as ChannelRow;
        // `undefined` has no JSON form; it travels as null, as it would over the wire.
        const json = JSON.stringify(data) ?? 'null';
        const from = opts.from ?? null;
        if (opts.historySize > 0) s.append.run(name, row.head, json, from, t);
        s.trimSize.run(name, row.head - opts.historySize);
        s.trimAge.run(name, t - opts.historyTtl);
        const publication = toPublication(name, row.epoch, { seq: row.head, data: json, sender: from, ts: t });
        if (opts.key !== undefined) s.putKey.run(name, opts.key, JSON.stringify(publication), t + opts.dedupTtl);
        return { publication, duplicate: false };
      }).immediate as (name: string, data: unknown, opts: BrokerPublishOptions) => PublishOutcome;
      sweeper = setInterval(sweep, sweepInterval);
      sweeper.unref?.();
    },
    async publish(name, data, opts) {
      open();
      const outcome = transient(() => (publishTx as NonNullable<typeof publishTx>)(name, data, opts));
      // Emitted after the commit: a subscriber never sees a publication that a crash could undo.
      if (!outcome.duplicate && subscribed.has(name)) events?.publication(outcome.publication);
      return outcome;
    },
    async subscribe(name) {
      subscribed.add(name);
    },
    async unsubscribe(name) {
      subscribed.delete(name);
    },
    async history(name, query: HistoryQuery = {}): Promise<HistoryResult> {
      const { d, s } = open();
      return transient(() =>
        d
          .transaction((): HistoryResult => {
            const t = now();
            s.ensureChannel.run(name, newEpoch(), t);
            const ch = s.channel.get(name) as ChannelRow & { history_ttl: number };
            s.trimAge.run(name, t - ch.history_ttl);
            const rows = s.read.all(name, query.since ?? 0, query.limit ?? -1);
            return {
              epoch: ch.epoch,
              offset: ch.head,
              publications: rows.map((r) => toPublication(name, ch.epoch, r)),
            };
          })
          .immediate(),
      );
    },
    available: () => !closed && db !== undefined,
    async close() {
      if (closed) return;
      closed = true;
      if (sweeper) clearInterval(sweeper);
      events = undefined;
      db?.close();
    },
  };
}

/** @deprecated Use `createSqliteBroker`; this name goes away in the next release. */
export const sqliteBroker = createSqliteBroker;
