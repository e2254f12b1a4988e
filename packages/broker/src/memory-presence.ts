/**
 * The in-process presence store: right for one node (memory, SQLite brokers), where an entry
 * describes a live connection of this very process and must vanish with it. Persisting presence
 * would bring back ghosts of connections that died in a crash.
 * @module
 */
import { type Duration, type PresenceClient, toMs } from '@tether/protocol';
import type { PresenceEvents, PresenceStore } from './presence.js';

export interface MemoryPresenceOptions {
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  /** How often expired entries are swept (each announcing its `leave`). @default 30_000 (ms) */
  sweepInterval?: Duration;
}

type Entries = Map<string, { client: PresenceClient; expires: number }>;

/**
 * Creates a presence store that keeps entries in this process.
 * @example
 * ```ts
 * const presence = createMemoryPresence({ sweepInterval: '5s' });
 * ```
 */
export function createMemoryPresence(options: MemoryPresenceOptions = {}): PresenceStore {
  const now = options.now ?? Date.now;
  const sweepInterval = toMs(options.sweepInterval ?? 30_000, 'sweepInterval');
  const channels = new Map<string, Entries>();
  let events: PresenceEvents | undefined;
  let sweeper: ReturnType<typeof setInterval> | undefined;

  const prune = (name: string, entries: Entries, t: number): void => {
    for (const [id, entry] of entries) {
      if (entry.expires > t) continue;
      entries.delete(id);
      events?.leave(name, entry.client);
    }
    if (entries.size === 0) channels.delete(name);
  };

  const sweep = (): void => {
    const t = now();
    for (const [name, entries] of channels) prune(name, entries, t);
  };

  return {
    async start(handlers) {
      events = handlers;
      sweeper = setInterval(sweep, sweepInterval);
      sweeper.unref?.();
    },
    async add(name, client, ttl) {
      let entries = channels.get(name);
      if (!entries) {
        entries = new Map();
        channels.set(name, entries);
      }
      const fresh = !entries.has(client.connectionId);
      entries.set(client.connectionId, { client, expires: now() + ttl });
      if (fresh) events?.join(name, client);
    },
    async remove(name, client) {
      const entries = channels.get(name);
      if (!entries?.delete(client.connectionId)) return;
      if (entries.size === 0) channels.delete(name);
      events?.leave(name, client);
    },
    async list(name) {
      const entries = channels.get(name);
      if (!entries) return [];
      prune(name, entries, now());
      return [...entries.values()].map((e) => e.client);
    },
    async close() {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      events = undefined;
    },
  };
}
