/**
 * The Redis broker: many Tether nodes behind a load balancer share offsets, history, idempotency
 * keys and presence in one Redis, and fan out to each other over Redis pub/sub.
 * @module
 */
import {
  type Broker,
  type BrokerEvents,
  type BrokerPublishOptions,
  BrokerUnavailableError,
  type HistoryQuery,
  type HistoryResult,
  newEpoch,
  type PresenceStore,
  type Publication,
  type PublishOutcome,
  serialPerKey,
} from '@tether/broker';
import type { PresenceClient } from '@tether/protocol';
import { type Client, makeClient, redact, runScript, SCRIPTS, type Script, unavailable } from './connection.js';
import { discard, startHealthCheck, within } from './health.js';
import { type RedisBrokerOptions, resolveOptions } from './options.js';
import { createRedisPresence } from './redis-presence.js';

/** A Redis broker always has a presence store: the one its nodes share. */
export interface RedisBroker extends Broker {
  readonly presence: PresenceStore;
}

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

/**
 * Creates a broker backed by Redis (node-redis). Per-channel offsets, the dedup check, the
 * history append (a Stream) and the fan-out PUBLISH happen in one Lua script; each node holds
 * one Redis subscription per channel in use; presence entries expire in Redis, so a crashed
 * node's connections disappear. While Redis is unreachable every call rejects with
 * `BrokerUnavailableError` and `availability(false)` is reported; reconnection is automatic.
 * @example
 * ```ts
 * import { createServer } from '@tether/server';
 * import { createRedisBroker } from '@tether/redis';
 * const tether = createServer({ broker: createRedisBroker({ url: process.env.TETHER_REDIS_URL }) });
 * ```
 */
export function createRedisBroker(options: RedisBrokerOptions = {}): RedisBroker {
  const { url, prefix, idleChannelTtl, connectTimeout, delay, sweepInterval, healthCheck } = resolveOptions(options);

  const topicPrefix = `${prefix}pub:`;
  const key = (channel: string, suffix: string): string => `${prefix}{${channel}}:${suffix}`;
  const subs = new Map<string, Subscription>();
  let events: BrokerEvents | undefined;
  let cmd: Client | undefined;
  let sub: Client | undefined;
  let up = false;
  let closed = false;
  /** True while lost connections are being replaced: the broker is down until the new pair is subscribed. */
  let replacing = false;
  let stopHealth: (() => void) | undefined;

  // Not while down: a connection that looks ready may be the silent one the health check caught.
  const run = (client: Client | undefined, s: Script, keys: string[], args: string[]): Promise<unknown> =>
    runScript(closed || !up ? undefined : client, s, keys, args);

  const presence = createRedisPresence({
    command: () => (closed ? undefined : cmd),
    up: () => up,
    serves: (channel) => subs.has(channel),
    keys: (channel) => [key(channel, 'pres'), key(channel, 'presx'), key(channel, 'presl')],
    topic: (channel) => topicPrefix + channel,
    sweepInterval,
  });

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
    } else if (kind === 'j') presence.announce('join', channel, body as PresenceClient);
    else if (kind === 'l') presence.announce('leave', channel, body as PresenceClient);
  };

  /** Runs subscribe/unsubscribe of one channel one after another, so they reach Redis in call order. */
  const serial = serialPerKey();

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
    const now = !closed && !replacing && cmd?.isReady === true && sub?.isReady === true;
    if (now === up) return;
    up = now;
    events?.availability(now);
    // Back from an outage: catch up on what the other nodes published while we could not hear.
    if (now) for (const [channel, s] of subs) markHead(channel, s).catch(() => {});
  };

  /** A new pair of connections, current from now on. */
  const pair = (): [Client, Client] => {
    const c = makeClient(url, connectTimeout, delay);
    const s = c.duplicate();
    cmd = c;
    sub = s;
    for (const client of [c, s]) {
      // An 'error' listener is required (node-redis rethrows otherwise); errors show up as
      // availability changes and rejected calls, never as a crash.
      client.on('error', update);
      for (const event of ['ready', 'end', 'reconnecting', 'connect']) client.on(event, update);
    }
    return [c, s];
  };

  /**
   * The health check caught a silent connection: down now (subscribers are told, publishes
   * refused), the old pair dropped (its waiting commands reject: a publish whose reply is lost is
   * retried with its key), and new pairs tried until one is ready and subscribed to every channel
   * this node serves. `update` then goes up and fills each channel's gap from history.
   */
  const replace = async (): Promise<void> => {
    if (replacing || closed) return;
    replacing = true;
    update();
    let attempt = 0;
    while (!closed) {
      discard(cmd);
      discard(sub);
      const [c, s] = pair();
      try {
        // A partition may accept the TCP connection and never answer HELLO: bound the whole setup.
        const deadline = connectTimeout + (healthCheck?.timeout ?? 0);
        await within(Promise.all([c.connect(), s.connect()]), deadline, 'Redis did not answer');
        const topics = [...subs.values()].map((sb) => sb.topic);
        if (topics.length > 0) await within(s.subscribe(topics, onMessage), deadline, 'no SUBSCRIBE');
        break;
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(delay.max, delay.min * 2 ** Math.min(attempt++, 16))));
      }
    }
    replacing = false;
    update();
  };

  return {
    name: 'redis',
    presence,
    async start(handlers) {
      if (cmd) throw new TypeError('createRedisBroker: start() was already called');
      events = handlers;
      const [c, s] = pair();
      const timeout = connectTimeout;
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
      if (healthCheck)
        stopHealth = startHealthCheck({
          ...healthCheck,
          clients: () => (replacing ? [] : [cmd, sub]),
          lost: (pinged) => {
            if (pinged.includes(cmd as Client) || pinged.includes(sub as Client)) void replace();
          },
        });
    },
    async publish(channel, data, opts: BrokerPublishOptions): Promise<PublishOutcome> {
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
          if (closed || replacing || !sub?.isReady) throw unavailable();
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
        if (sub?.isReady && up && !closed) await sub.unsubscribe(s.topic).catch(() => {});
      }),
    history: historyOf,
    available: () => up,
    async close() {
      if (closed) return;
      closed = true;
      stopHealth?.();
      events = undefined;
      await presence.close();
      subs.clear();
      const wasUp = up;
      up = false;
      for (const client of [sub, cmd]) {
        if (!client) continue;
        // A silent link would never answer QUIT: close politely only while healthy, and not for ever.
        if (client.isReady && wasUp)
          await within(client.close(), healthCheck?.timeout ?? connectTimeout, 'no reply to QUIT').catch(() =>
            discard(client),
          );
        else discard(client);
      }
    },
  };
}

/** @deprecated Use `createRedisBroker`; this name goes away in the next release. */
export const redisBroker = createRedisBroker;
