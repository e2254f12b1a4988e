/**
 * The broker seam: everything that must be shared between Tether nodes — offsets, history,
 * idempotency keys, fan-out and presence — goes through this interface, so that one process
 * (memory, SQLite) and many processes (Redis) differ only in the broker they are given.
 *
 * Guarantees every implementation gives (the conformance suite in `@tether/server/testing`
 * checks them):
 * - `publish` assigns the channel's next offset (1, 2, 3 …) atomically with the dedup check
 *   and the history append; offsets are global per channel across all nodes sharing the broker.
 * - `events.publication` is called for every publication on a channel this node subscribed to,
 *   its own publications included, in offset order per channel, at most once each.
 * - A channel's epoch changes only when its offsets or history were lost.
 * @module
 */
import type { MessageFrame, PresenceClient } from '@tether/protocol';

/** A stored publication is exactly the `message` frame subscribers receive. */
export type Publication = MessageFrame;

export interface PublishOptions {
  /** Idempotency key: a repeat within `dedupTtl` returns the first publication and stores nothing. */
  key?: string;
  /** User id of the publisher (absent for server code and the HTTP API). */
  from?: string;
  /** How many publications the channel keeps for recovery (0 keeps none; offsets still advance). */
  historySize: number;
  /** How long publications are kept for recovery, in ms. */
  historyTtl: number;
  /** How long idempotency keys are remembered, in ms. */
  dedupTtl: number;
}

export interface PublishOutcome {
  publication: Publication;
  /** True when `key` was seen before: `publication` is the original and nothing was published. */
  duplicate: boolean;
}

export interface HistoryQuery {
  /** Return publications with offset > `since` (default: the whole retained history). */
  since?: number;
  /** At most this many, the oldest first. */
  limit?: number;
}

export interface HistoryResult {
  epoch: string;
  /** The channel's latest offset (0 when nothing was ever published). */
  offset: number;
  /** Retained publications with offset > `since`, ascending. */
  publications: Publication[];
}

/** What a broker tells the node it runs in. */
export interface BrokerEvents {
  /** A publication on a channel this node subscribed to (see the ordering guarantee above). */
  publication(publication: Publication): void;
  /**
   * A connection (on any node) joined the presence of a channel. Guaranteed for channels this node
   * subscribed to; a broker may also report others (the memory broker does), which a node ignores.
   */
  join(channel: string, client: PresenceClient): void;
  /** A connection (on any node) left a channel's presence, or its entry expired. Same scope as `join`. */
  leave(channel: string, client: PresenceClient): void;
  /** The broker lost (`false`) or regained (`true`) its backing store. */
  availability(up: boolean): void;
}

/** Thrown (as a rejection) by broker calls while the backing store is unreachable. */
export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
  readonly code = 'unavailable';
}

export interface Broker {
  /** Short name for logs and metrics: `memory`, `sqlite`, `redis`. */
  readonly name: string;
  /** Connects and starts delivering events. Called once, before anything else. */
  start(events: BrokerEvents): Promise<void>;
  publish(channel: string, data: unknown, options: PublishOptions): Promise<PublishOutcome>;
  /** This node wants `publication` events for `channel`. Idempotent; one call per node, not per client. */
  subscribe(channel: string): Promise<void>;
  /** This node no longer needs `channel`. Idempotent. */
  unsubscribe(channel: string): Promise<void>;
  history(channel: string, query?: HistoryQuery): Promise<HistoryResult>;
  /** Adds or refreshes a presence entry, which expires after `ttl` ms unless refreshed. Emits `join` when new. */
  presenceAdd(channel: string, client: PresenceClient, ttl: number): Promise<void>;
  /** Removes a presence entry. Emits `leave` when it existed. */
  presenceRemove(channel: string, client: PresenceClient): Promise<void>;
  presence(channel: string): Promise<PresenceClient[]>;
  /** False while the backing store is unreachable (drives `/readyz`). */
  available(): boolean;
  /** Stops delivering events and releases connections. */
  close(): Promise<void>;
}
