/**
 * The in-process presence store: right for one node (memory, SQLite brokers), where an entry
 * describes a live connection of this very process and must vanish with it. Persisting presence
 * would bring back ghosts of connections that died in a crash.
 * @module
 */
import { type Duration, type PresenceClient, toMs } from '@tether/protocol';
import type { PresenceEvents, PresenceQuery, PresenceStore } from './presence.js';

export interface MemoryPresenceOptions {
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  /** How often expired entries are swept (each announcing its `leave`). @default 30_000 (ms) */
  sweepInterval?: Duration;
}

type Entry = { client: PresenceClient; expires: number };

/**
 * A channel's entries, and their ids in order for paging. `order` is sorted but may still hold
 * ids removed since (reads skip them); ids added since the last read wait in `added` and are
 * merged in by the next read. A join costs O(1), and a page O(log n + its size) unless the
 * channel changed since the previous page, which costs one O(n) merge, never a sort of n.
 */
interface Entries {
  map: Map<string, Entry>;
  order: string[];
  added: string[];
}

/** Merges `added` into `order`, dropping removed ids and duplicates (a removed id added again). */
function reorder(e: Entries): void {
  // Tombstones past the live entries are compacted too, so a shrinking channel reads fast.
  if (e.added.length === 0 && e.order.length <= 2 * e.map.size) return;
  const added = e.added.sort();
  const old = e.order;
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < old.length || j < added.length) {
    const a = old[i];
    const b = added[j];
    const id = (b === undefined || (a !== undefined && a < b) ? old[i++] : added[j++]) as string;
    if (id !== out[out.length - 1] && e.map.has(id)) out.push(id);
  }
  e.order = out;
  e.added = [];
}

/** The index of the first id in `order` greater than `after`. */
function seek(order: string[], after: string): number {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((order[mid] as string) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

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
    for (const [id, entry] of entries.map) {
      if (entry.expires > t) continue;
      entries.map.delete(id);
      events?.leave(name, entry.client);
    }
    if (entries.map.size === 0) channels.delete(name);
  };

  /** One page; an expired entry met on the way leaves here (the sweep finds the others). */
  const page = (name: string, entries: Entries, query: PresenceQuery, t: number): PresenceClient[] => {
    reorder(entries);
    const { order, map } = entries;
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    const out: PresenceClient[] = [];
    for (let i = query.after === undefined ? 0 : seek(order, query.after); i < order.length; i++) {
      if (out.length >= limit) break;
      const id = order[i] as string;
      const entry = map.get(id);
      if (!entry) continue;
      if (entry.expires > t) out.push(entry.client);
      else {
        map.delete(id);
        events?.leave(name, entry.client);
      }
    }
    if (map.size === 0) channels.delete(name);
    return out;
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
        entries = { map: new Map(), order: [], added: [] };
        channels.set(name, entries);
      }
      const id = client.connectionId;
      const fresh = !entries.map.has(id);
      entries.map.set(id, { client, expires: now() + ttl });
      if (!fresh) return;
      entries.added.push(id);
      // Bounded without reads: merged once the pending ids outnumber the entries (amortised O(log n)).
      if (entries.added.length > entries.map.size) reorder(entries);
      events?.join(name, client);
    },
    async remove(name, client) {
      const entries = channels.get(name);
      if (!entries?.map.delete(client.connectionId)) return;
      if (entries.map.size === 0) channels.delete(name);
      events?.leave(name, client);
    },
    async list(name, query = {}) {
      const entries = channels.get(name);
      return entries ? page(name, entries, query, now()) : [];
    },
    async close() {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      events = undefined;
    },
  };
}
