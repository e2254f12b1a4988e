/**
 * The presence store of the Redis broker: entries live in Redis (a hash and a sorted set of
 * expiry times per channel), so every node sees every node's connections, and a crashed node's
 * entries expire on their own. It shares the broker's connections: joins and leaves arrive as
 * `j`/`l` messages on the broker's per-channel subscription, which is why they are announced
 * for the channels this node subscribed to.
 * @module
 */
import type { PresenceEvents, PresenceQuery, PresenceStore } from '@tether/broker';
import type { PresenceClient } from '@tether/protocol';
import { type Client, runScript, SCRIPTS } from './connection.js';

/** What the presence store needs from its broker. */
export interface PresenceHost {
  /** The command connection, undefined before `start` or after `close`. */
  command(): Client | undefined;
  /** True while both connections are ready. */
  up(): boolean;
  /** True while this node is subscribed to `channel`. */
  serves(channel: string): boolean;
  keys(channel: string): string[];
  topic(channel: string): string;
  /** How often expired entries of served channels are reaped, in ms. */
  sweepInterval: number;
}

export interface RedisPresence extends PresenceStore {
  /** Called by the broker for each `j`/`l` message on a subscribed channel. */
  announce(kind: 'join' | 'leave', channel: string, client: PresenceClient): void;
}

export function createRedisPresence(host: PresenceHost): RedisPresence {
  /** Subscribed channels where a join was seen: the ones the sweep looks at. */
  const withPresence = new Set<string>();
  let events: PresenceEvents | undefined;
  let sweeper: ReturnType<typeof setInterval> | undefined;

  const list = (channel: string, query: PresenceQuery = {}): Promise<unknown> =>
    runScript(host.command(), SCRIPTS.presenceList, host.keys(channel), [
      host.topic(channel),
      query.after ?? '',
      String(query.limit ?? -1),
    ]);

  /**
   * Reaps expired presence entries (each reap announces its `leave`s once). Only channels where
   * this node saw a join, and that it still serves, so an idle node with many channels costs
   * Redis nothing; a channel leaves the set once its presence is empty.
   */
  const sweep = (): void => {
    if (!host.up()) return;
    for (const channel of withPresence) {
      if (!host.serves(channel)) {
        withPresence.delete(channel);
        continue;
      }
      // One entry is enough to know the channel still has presence; the script reaps first.
      list(channel, { limit: 1 }).then(
        (left) => {
          if (Array.isArray(left) && left.length === 0) withPresence.delete(channel);
        },
        () => {},
      );
    }
  };

  return {
    announce(kind, channel, client) {
      if (kind === 'join') {
        withPresence.add(channel);
        events?.join(channel, client);
      } else events?.leave(channel, client);
    },
    async start(handlers) {
      events = handlers;
      sweeper = setInterval(sweep, host.sweepInterval);
      sweeper.unref?.();
    },
    async add(channel, client, ttl) {
      await runScript(host.command(), SCRIPTS.presenceAdd, host.keys(channel), [
        client.connectionId,
        JSON.stringify(client),
        String(Math.max(1, Math.floor(ttl))),
        host.topic(channel),
      ]);
    },
    async remove(channel, client) {
      await runScript(host.command(), SCRIPTS.presenceRemove, host.keys(channel), [
        client.connectionId,
        host.topic(channel),
      ]);
    },
    async list(channel, query) {
      const reply = (await list(channel, query)) as string[];
      return reply.map((json) => JSON.parse(json) as PresenceClient);
    },
    async close() {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      events = undefined;
      withPresence.clear();
    },
  };
}
