/**
 * The deprecated `sqliteBroker` of `@tether/server`: the SQLite broker now lives in
 * `@tether/sqlite`, and this stand-in loads that package only when its broker starts, so the
 * server never loads `better-sqlite3` unless it is used.
 * @module
 */
import type { Broker, BrokerEvents } from '@tether/broker';

/**
 * The options of `createSqliteBroker` in `@tether/sqlite`, repeated here so the server's types
 * need no optional package (test/sqlite-options.test.ts keeps the two equal).
 */
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
  /** How long an idle channel keeps its offset counter and epoch, in ms. @default 86_400_000 (24 h) */
  idleChannelTtl?: number;
  /** `NORMAL` survives a process crash; `FULL` fsyncs every commit and survives power loss too. @default 'NORMAL' */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a write waits for a lock held by another connection, in ms. @default 5000 */
  busyTimeout?: number;
}

/**
 * @deprecated Use `createSqliteBroker` from `@tether/sqlite` (install it next to the server).
 * This one loads `@tether/sqlite` in `start()`, and rejects there when it is not installed.
 */
export function sqliteBroker(options: SqliteBrokerOptions): Broker {
  if (typeof options !== 'object' || options === null || typeof options.file !== 'string' || options.file === '')
    throw new TypeError('sqliteBroker: `file` must be a path to the database file (or ":memory:")');
  let inner: Broker | undefined;
  const started = (): Broker => {
    if (!inner) throw new Error('sqliteBroker: call start() first');
    return inner;
  };
  return {
    name: 'sqlite',
    async start(events: BrokerEvents) {
      let mod: typeof import('@tether/sqlite');
      try {
        mod = await import('@tether/sqlite');
      } catch (err) {
        throw new TypeError('sqliteBroker needs @tether/sqlite: npm install @tether/sqlite', { cause: err });
      }
      inner = mod.createSqliteBroker(options);
      await inner.start(events);
    },
    publish: async (channel, data, publishOptions) => started().publish(channel, data, publishOptions),
    subscribe: async (channel) => started().subscribe(channel),
    unsubscribe: async (channel) => started().unsubscribe(channel),
    history: async (channel, query) => started().history(channel, query),
    available: () => inner?.available() ?? false,
    close: async () => {
      await inner?.close();
    },
  };
}
