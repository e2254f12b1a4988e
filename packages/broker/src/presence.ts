/**
 * The presence contract: who is connected to a channel right now. Separate from `Broker` because
 * it needs none of its atomicity (no offsets, no history) and most deployments keep it in process.
 *
 * Guarantees every implementation gives (checked by `runPresenceConformance` in
 * `@tether/broker/testing`):
 * - An entry is keyed by `connectionId`; `add` of a present entry refreshes its expiry and
 *   announces nothing; `add` of a new one announces `join` once.
 * - `remove` of a present entry announces `leave` once; of an absent one, nothing.
 * - An entry not refreshed within its `ttl` expires and announces `leave` once (within the store's
 *   sweep interval), so a crashed node's connections leave on their own.
 * - `join`/`leave` are announced at least for channels this node subscribed to through the broker
 *   the store belongs to (a store may announce others; the node ignores them).
 * - `list` returns entries in ascending `connectionId` order (the store's string order: UTF-16
 *   code units in memory, bytes in Redis; the same for the ASCII ids the server makes), and
 *   `after` seeks in that order. So a walk that passes each page's last id as the next `after`
 *   returns no entry twice and skips no entry that was present for the whole walk; entries
 *   added or removed meanwhile may or may not appear. A page should cost the store about its
 *   own size, not the channel's.
 * @module
 */
import type { PresenceClient } from '@tether/protocol';

/** What a presence store tells the node it runs in. */
export interface PresenceEvents {
  /** A connection (on any node) joined the presence of a channel. */
  join(channel: string, client: PresenceClient): void;
  /** A connection (on any node) left a channel's presence, or its entry expired. */
  leave(channel: string, client: PresenceClient): void;
}

/** Which part of a channel's presence `list` returns. */
export interface PresenceQuery {
  /** Only entries whose `connectionId` sorts after this one (exclusive): the previous page's last. @default undefined (from the first) */
  after?: string;
  /** At most this many entries (an integer >= 1). @default undefined (all) */
  limit?: number;
}

export interface PresenceStore {
  /** Starts announcing events. Called once, before anything else (after the broker's `start`). */
  start(events: PresenceEvents): Promise<void>;
  /** Adds or refreshes an entry, which expires after `ttl` ms unless refreshed. Announces `join` when new. */
  add(channel: string, client: PresenceClient, ttl: number): Promise<void>;
  /** Removes an entry. Announces `leave` when it existed. */
  remove(channel: string, client: PresenceClient): Promise<void>;
  /**
   * The channel's live entries in ascending `connectionId` order: all of them, or the page the
   * query asks for (see the module comment for what a walk over pages guarantees).
   */
  list(channel: string, query?: PresenceQuery): Promise<PresenceClient[]>;
  /** Stops announcing and releases resources. */
  close(): Promise<void>;
}
