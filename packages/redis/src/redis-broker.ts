/**
 * The Redis broker: many Tether nodes behind a load balancer share offsets, history, idempotency
 * keys and presence in one Redis, and fan out to each other over Redis pub/sub.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import type { PresenceClient } from '@tether/protocol';
import {
  type Broker,
  type BrokerEvents,
  BrokerUnavailableError,
  type HistoryQuery,
  type HistoryResult,
  type Publication,
  type PublishOptions,
  type PublishOutcome,
} from '@tether/server';
import { createClient, ErrorReply } from 'redis';
import { HISTORY, PRESENCE_ADD, PRESENCE_LIST, PRESENCE_REMOVE, PUBLISH } from './lua.js';

export interface RedisBrokerOptions {
  /** Redis URL. @default 'redis://127.0.0.1:6379' */
  url?: string;
  /**
   * Prefix of every key and pub/sub channel, so several apps (or test runs) can share one Redis.
   * A `:` is appended when missing. @default 'tether:'
   */
  prefix?: string;
  /** How often this node sweeps expired presence entries of its channels (announcing `leave`), in ms. @default 10_000 */
  sweepInterval?: number;
  /**
   * How long a channel's offset counter and epoch outlive its last publication when neither
   * history nor keys keep it longer, in ms. After that the channel starts a new epoch.
   * @default 86_400_000 (24 h)
   */
  idleChannelTtl?: number;
  /** How long `start()` waits for the first connection before rejecting, in ms. @default 10_000 */
  connectTimeout?: number;
  /** Reconnection delay bounds, in ms: doubling from `min` up to `max`. @default { min: 50, max: 2000 } */
  reconnectDelay?: { min: number; max: number };
}

function makeClient(url: string, connectTimeout: number, delay: { min: number; max: number }) {
  return createClient({
    url,
    RESP: 3,
    // Queued commands would wait out an outage and then publish late; fail them now instead.
    disableOfflineQueue: true,
    socket: {
      connectTimeout,
      reconnectStrategy: (retries: number) => Math.min(delay.max, delay.min * 2 ** Math.min(retries, 16)),
    },
  });
}
type Client = ReturnType<typeof makeClient>;

interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SCRIPTS = {
  publish: script(PUBLISH),
  history: script(HISTORY),
  presenceAdd: script(PRESENCE_ADD),
  presenceRemove: script(PRESENCE_REMOVE),
  presenceList: script(PRESENCE_LIST),
};

/** Replies that mean "Redis cannot serve this right now", not "this request is wrong". */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|OOM)\b/;

/** Delivery state of one channel this node subscribed to. */
interface Subscription {
  topic: string;
  /** Epoch and offset of the last publication delivered; undefined until the first one. */
  epoch?: string;
  last: number;
  /** Publications and "the channel is at least here" marks waiting for in-order delivery. */
  queue: Array<Publication | { head: true; epoch: string; offset: number }>;
  draining: boolean;
}

const newEpoch = (): string => randomBytes(6).toString('base64url');

/**
 * Creates a broker backed by Redis (node-redis). Per-channel offsets, the dedup check, the
 * history append (a Stream) and the fan-out PUBLISH happen in one Lua script; each node holds
 * one Redis subscription per channel in use; presence entries expire in Redis, so a crashed
 * node's connections disappear. While Redis is unreachable every call rejects with
 * `BrokerUnavailableError` and `availability(false)` is reported; reconnection is automatic.
 * @example
 * ```ts
 * import { createServer } from '@tether/server';
 * import { redisBroker } from '@tether/redis';
 * const tether = createServer({ broker: redisBroker({ url: process.env.TETHER_REDIS_URL }) });
 * ```
 */
export function redisBroker(options: RedisBrokerOptions = {}): Broker {
  const url = options.url ?? 'redis://127.0.0.1:6379';
  const rawPrefix = options.prefix ?? 'tether:';
  if (typeof rawPrefix !== 'string') throw new TypeError('redisBroker: `prefix` must be a string');
  // `tether` and `tether:` mean the same: keys read `tether:{room:lobby}:meta` either way.
  const prefix = rawPrefix === '' || rawPrefix.endsWith(':') ? rawPrefix : `${rawPrefix}:`;
  const idleChannelTtl = options.idleChannelTtl ?? 86_400_000;
  const delay = options.reconnectDelay ?? { min: 50, max: 2000 };
  if (!(delay.min > 0 && delay.max >= delay.min))
    throw new RangeError('redisBroker: `reconnectDelay` needs 0 < min <= max');

  const topicPrefix = `${prefix}pub:`;
  const key = (channel: string, suffix: string): string => `${prefix}{${channel}}:${suffix}`;
  const subs = new Map<string, Subscription>();
  /** Subscribed channels where a presence join was seen: the ones the sweep looks at. */
  const withPresence = new Set<string>();
  let events: BrokerEvents | undefined;
  let cmd: Client | undefined;
  let sub: Client | undefined;
  let up = false;
  let closed = false;
  let sweeper: ReturnType<typeof setInterval> | undefined;

  const unavailable = (cause?: unknown): BrokerUnavailableError =>
    new BrokerUnavailableError('Redis is unreachable', cause === undefined ? undefined : { cause });

  /** Runs a script by SHA, loading it on NOSCRIPT (a restarted or flushed Redis forgets scripts). */
  const run = async (client: Client | undefined, s: Script, keys: string[], args: string[]): Promise<unknown> => {
    if (closed || !client?.isReady) throw unavailable();
    const tail = [String(keys.length), ...keys, ...args];
    try {
      try {
        return await client.sendCommand(['EVALSHA', s.sha, ...tail]);
      } catch (error) {
        if (error instanceof ErrorReply && error.message.startsWith('NOSCRIPT'))
          return await client.sendCommand(['EVAL', s.source, ...tail]);
        throw error;
      }
    } catch (error) {
      // A reply error from a healthy Redis is a bug worth seeing as is; anything else (socket
      // closed, offline, timeout, a failing-over server) means "try again later".
      if (error instanceof ErrorReply && !TRANSIENT_REPLY.test(error.message)) throw error;
      throw unavailable(error);
    }
  };

  const emit = (s: Subscription, p: Publication): void => {
    if (s.epoch !== p.epoch) {
      // A new epoch means the channel's history was lost in Redis; the server tells clients.
      s.epoch = p.epoch;
      s.last = 0;
    }
    if (p.offset <= s.last) return;
    s.last = p.offset;
    events?.publication(p);
  };

  /**
   * Delivers a subscription's queue in offset order. Pub/sub is at-most-once: a message sent
   * while this node's subscriber connection was down is gone, so a jump in offsets (or a head
   * mark above the last delivered offset) is filled from the stream before going on.
   */
  const drain = async (channel: string, s: Subscription): Promise<void> => {
    if (s.draining) return;
    s.draining = true;
    let retry = false;
    try {
      while (s.queue.length > 0 && subs.get(channel) === s) {
        const item = s.queue[0] as Subscription['queue'][number];
        const target = 'head' in item ? item.offset : item.offset - 1;
        // A known epoch means a known position (possibly 0, from the head mark of an empty channel).
        if (s.epoch === item.epoch && target > s.last) {
          try {
            const h = await historyOf(channel, { since: s.last, limit: target - s.last });
            for (const p of h.publications) if (p.offset <= target && subs.get(channel) === s) emit(s, p);
          } catch {
            // The command connection is not back yet (the subscriber connection can return first).
            // Going on would deliver past the hole and lose it for good: keep the queue and retry.
            retry = true;
            break;
          }
        }
        s.queue.shift();
        if ('head' in item) {
          if (s.epoch === undefined) {
            s.epoch = item.epoch;
            s.last = item.offset;
          }
        } else if (subs.get(channel) === s) emit(s, item);
      }
    } finally {
      s.draining = false;
    }
    if (retry && !closed) setTimeout(() => void drain(channel, s), 100).unref();
  };

  const onMessage = (message: string, topic: string): void => {
    const channel = topic.slice(topicPrefix.length);
    const s = subs.get(channel);
    if (!s || closed) return;
    const kind = message[0];
    let body: unknown;
    try {
      body = JSON.parse(message.slice(1));
    } catch {
      // Not ours (someone else publishing on our prefix): never let it reach the node.
      return;
    }
    if (kind === 'm') {
      s.queue.push(body as Publication);
      void drain(channel, s);
    } else if (kind === 'j') {
      withPresence.add(channel);
      events?.join(channel, body as PresenceClient);
    } else if (kind === 'l') events?.leave(channel, body as PresenceClient);
  };

  /** Runs subscribe/unsubscribe of one channel one after another, so they reach Redis in call order. */
  const ops = new Map<string, Promise<void>>();
  const serial = (channel: string, op: () => Promise<void>): Promise<void> => {
    const next = (ops.get(channel) ?? Promise.resolve()).then(op, op);
    const settled = next.catch(() => {});
    ops.set(channel, settled);
    void settled.then(() => {
      if (ops.get(channel) === settled) ops.delete(channel);
    });
    return next;
  };

  /**
   * Reads a channel's head through the subscriber connection: Redis answers it after every
   * message it pushed on that connection before, so "offset ≤ head" means "delivered or
   * published before we subscribed" — no publication can slip between the two.
   */
  const markHead = async (channel: string, s: Subscription): Promise<void> => {
    const h = parseHistory(
      await run(
        sub,
        SCRIPTS.history,
        [key(channel, 'meta'), key(channel, 'hist')],
        [newEpoch(), '0', '0', String(idleChannelTtl)],
      ),
    );
    if (subs.get(channel) !== s) return;
    s.queue.push({ head: true, epoch: h.epoch, offset: h.offset });
    await drain(channel, s);
  };

  const parseHistory = (reply: unknown): { epoch: string; offset: number; frames: string[] } => {
    const [epoch, offset, frames] = reply as [string, number, string[]];
    return { epoch: String(epoch), offset: Number(offset), frames: frames ?? [] };
  };

  const historyOf = async (channel: string, query: HistoryQuery = {}): Promise<HistoryResult> => {
    const h = parseHistory(
      await run(
        cmd,
        SCRIPTS.history,
        [key(channel, 'meta'), key(channel, 'hist')],
        [
          newEpoch(),
          String(Math.max(0, Math.floor(query.since ?? 0))),
          String(query.limit === undefined ? -1 : Math.max(0, Math.floor(query.limit))),
          String(idleChannelTtl),
        ],
      ),
    );
    return { epoch: h.epoch, offset: h.offset, publications: h.frames.map((f) => JSON.parse(f) as Publication) };
  };

  const update = (): void => {
    const now = !closed && cmd?.isReady === true && sub?.isReady === true;
    if (now === up) return;
    up = now;
    events?.availability(now);
    // Back from an outage: catch up on what the other nodes published while we could not hear.
    if (now) for (const [channel, s] of subs) markHead(channel, s).catch(() => {});
  };

  const presenceKeys = (channel: string): string[] => [key(channel, 'pres'), key(channel, 'presx')];

  /**
   * Reaps expired presence entries (each reap announces its `leave`s once). Only channels where
   * this node saw a join, and that it still serves, so an idle node with many channels costs
   * Redis nothing; a channel leaves the set once its presence is empty.
   */
  const sweep = (): void => {
    if (!up) return;
    for (const channel of withPresence) {
      if (!subs.has(channel)) {
        withPresence.delete(channel);
        continue;
      }
      run(cmd, SCRIPTS.presenceList, presenceKeys(channel), [topicPrefix + channel]).then(
        (left) => {
          if (Array.isArray(left) && left.length === 0) withPresence.delete(channel);
        },
        () => {},
      );
    }
  };

  return {
    name: 'redis',
    async start(handlers) {
      if (cmd) throw new TypeError('redisBroker: start() was already called');
      events = handlers;
      const c = makeClient(url, options.connectTimeout ?? 10_000, delay);
      const s = c.duplicate();
      cmd = c;
      sub = s;
      for (const client of [c, s]) {
        // An 'error' listener is required (node-redis rethrows otherwise); errors show up as
        // availability changes and rejected calls, never as a crash.
        client.on('error', update);
        for (const event of ['ready', 'end', 'reconnecting', 'connect']) client.on(event, update);
      }
      const timeout = options.connectTimeout ?? 10_000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          Promise.all([c.connect(), s.connect()]),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(unavailable(new Error(`no connection to ${redact(url)} within ${timeout} ms`))),
              timeout,
            );
          }),
        ]);
      } catch (error) {
        closed = true;
        c.destroy();
        s.destroy();
        throw error instanceof BrokerUnavailableError ? error : unavailable(error);
      } finally {
        clearTimeout(timer);
      }
      update();
      sweeper = setInterval(sweep, options.sweepInterval ?? 10_000);
      sweeper.unref?.();
    },
    async publish(channel, data, opts: PublishOptions): Promise<PublishOutcome> {
      const hasKey = opts.key !== undefined;
      const reply = (await run(
        cmd,
        SCRIPTS.publish,
        [key(channel, 'meta'), key(channel, 'hist'), hasKey ? key(channel, `key:${opts.key}`) : key(channel, 'meta')],
        [
          JSON.stringify(channel),
          JSON.stringify(data) ?? 'null',
          opts.from === undefined ? '' : JSON.stringify(opts.from),
          String(Math.max(0, Math.floor(opts.historySize))),
          String(Math.max(0, Math.floor(opts.historyTtl))),
          String(Math.max(0, Math.floor(opts.dedupTtl))),
          hasKey ? '1' : '0',
          newEpoch(),
          topicPrefix + channel,
          String(idleChannelTtl),
        ],
      )) as [number, string];
      return { publication: JSON.parse(reply[1]) as Publication, duplicate: Number(reply[0]) === 1 };
    },
    subscribe: (channel) =>
      serial(channel, async () => {
        if (subs.has(channel)) return;
        const s: Subscription = { topic: topicPrefix + channel, last: 0, queue: [], draining: false };
        // Registered first: a message that arrives with the SUBSCRIBE confirmation is kept.
        subs.set(channel, s);
        try {
          if (closed || !sub?.isReady) throw unavailable();
          await sub.subscribe(s.topic, onMessage);
        } catch (error) {
          if (subs.get(channel) === s) subs.delete(channel);
          throw error instanceof BrokerUnavailableError ? error : unavailable(error);
        }
        // Without a first position, a publication lost during an outage right after subscribing
        // could not be noticed; the head mark gives one, before `subscribe` resolves. If Redis
        // fails right now, the mark comes with the resynchronisation after reconnecting.
        await markHead(channel, s).catch(() => {});
      }),
    unsubscribe: (channel) =>
      serial(channel, async () => {
        const s = subs.get(channel);
        if (!s) return;
        subs.delete(channel);
        // Redis forgets subscriptions of a dropped connection anyway; only a live one needs telling.
        if (sub?.isReady && !closed) await sub.unsubscribe(s.topic).catch(() => {});
      }),
    history: historyOf,
    async presenceAdd(channel, client, ttl) {
      await run(cmd, SCRIPTS.presenceAdd, presenceKeys(channel), [
        client.connectionId,
        JSON.stringify(client),
        String(Math.max(1, Math.floor(ttl))),
        topicPrefix + channel,
      ]);
    },
    async presenceRemove(channel, client) {
      await run(cmd, SCRIPTS.presenceRemove, presenceKeys(channel), [client.connectionId, topicPrefix + channel]);
    },
    async presence(channel) {
      const reply = (await run(cmd, SCRIPTS.presenceList, presenceKeys(channel), [topicPrefix + channel])) as string[];
      return reply.map((json) => JSON.parse(json) as PresenceClient);
    },
    available: () => up,
    async close() {
      if (closed) return;
      closed = true;
      if (sweeper) clearInterval(sweeper);
      events = undefined;
      subs.clear();
      up = false;
      for (const client of [sub, cmd]) {
        if (!client) continue;
        if (client.isReady) await client.close().catch(() => client.destroy());
        else if (client.isOpen) client.destroy();
      }
    },
  };
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured Redis URL';
  }
}
