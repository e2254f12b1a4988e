/**
 * The in-process broker: the default for one node, and the reference the other brokers are
 * tested against. State lives in this process only; a restart starts every channel in a new epoch.
 * @module
 */
import { type Duration, toMs } from '@tether/protocol';
import type {
  Broker,
  BrokerEvents,
  BrokerPublishOptions,
  HistoryQuery,
  HistoryResult,
  Publication,
  PublishOutcome,
} from './broker.js';
import { newEpoch } from './helpers.js';

interface Channel {
  epoch: string;
  offset: number;
  history: Publication[];
  historyTtl: number;
  /** Idempotency key → original publication and when the key is forgotten. */
  keys: Map<string, { publication: Publication; expires: number }>;
}

export interface MemoryBrokerOptions {
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  /** How often expired history, keys and idle channels are swept. @default 30_000 (ms) */
  sweepInterval?: Duration;
}

/**
 * Creates a broker that keeps offsets, history and idempotency keys in this process.
 * @example
 * ```ts
 * const tether = createServer({ broker: createMemoryBroker() });
 * ```
 */
export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker {
  const now = options.now ?? Date.now;
  const sweepInterval = toMs(options.sweepInterval ?? 30_000, 'sweepInterval');
  const channels = new Map<string, Channel>();
  const subscribed = new Set<string>();
  let events: BrokerEvents | undefined;
  let sweeper: ReturnType<typeof setInterval> | undefined;

  const channel = (name: string): Channel => {
    let ch = channels.get(name);
    if (!ch) {
      ch = { epoch: newEpoch(), offset: 0, history: [], historyTtl: 0, keys: new Map() };
      channels.set(name, ch);
    }
    return ch;
  };

  const pruneHistory = (ch: Channel, t: number): void => {
    const cutoff = t - ch.historyTtl;
    let drop = 0;
    while (drop < ch.history.length && (ch.history[drop] as Publication).ts <= cutoff) drop++;
    if (drop > 0) ch.history.splice(0, drop);
  };

  const sweep = (): void => {
    const t = now();
    for (const [name, ch] of channels) {
      pruneHistory(ch, t);
      for (const [key, entry] of ch.keys) if (entry.expires <= t) ch.keys.delete(key);
      // An idle channel with nothing left to recover is forgotten; coming back, it starts a new epoch,
      // which tells any client holding an old offset that its position is gone.
      if (ch.history.length === 0 && ch.keys.size === 0 && !subscribed.has(name)) channels.delete(name);
    }
  };

  return {
    name: 'memory',
    async start(handlers) {
      events = handlers;
      sweeper = setInterval(sweep, sweepInterval);
      sweeper.unref?.();
    },
    async publish(name, data, opts: BrokerPublishOptions): Promise<PublishOutcome> {
      const ch = channel(name);
      const t = now();
      if (opts.key !== undefined) {
        const seen = ch.keys.get(opts.key);
        if (seen && seen.expires > t) return { publication: seen.publication, duplicate: true };
      }
      ch.offset += 1;
      const publication: Publication = {
        type: 'message',
        channel: name,
        offset: ch.offset,
        epoch: ch.epoch,
        data,
        ts: t,
      };
      if (opts.from !== undefined) publication.from = opts.from;
      if (opts.key !== undefined) ch.keys.set(opts.key, { publication, expires: t + opts.dedupTtl });
      ch.historyTtl = opts.historyTtl;
      if (opts.historySize > 0) {
        ch.history.push(publication);
        if (ch.history.length > opts.historySize) ch.history.splice(0, ch.history.length - opts.historySize);
      }
      pruneHistory(ch, t);
      if (subscribed.has(name)) events?.publication(publication);
      return { publication, duplicate: false };
    },
    async subscribe(name) {
      subscribed.add(name);
    },
    async unsubscribe(name) {
      subscribed.delete(name);
    },
    async history(name, query: HistoryQuery = {}): Promise<HistoryResult> {
      const ch = channel(name);
      pruneHistory(ch, now());
      const since = query.since ?? 0;
      let publications = ch.history.filter((p) => p.offset > since);
      if (query.limit !== undefined) publications = publications.slice(0, query.limit);
      return { epoch: ch.epoch, offset: ch.offset, publications };
    },
    available: () => true,
    async close() {
      if (sweeper) clearInterval(sweeper);
      events = undefined;
    },
  };
}

/** @deprecated Use `createMemoryBroker`; this name goes away in the next release. */
export const memoryBroker = createMemoryBroker;
