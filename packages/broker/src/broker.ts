/**
 * The broker contract: everything about publications that must be shared between Tether nodes —
 * offsets, history, idempotency keys and fan-out — goes through this interface, so that one
 * process (memory, SQLite) and many processes (Redis) differ only in the broker they are given.
 * Offsets, dedup and history stay in one interface because they must change atomically per channel.
 *
 * Guarantees every implementation gives (the conformance suite in `@tether/broker/testing`
 * checks them):
 * - `publish` assigns the channel's next offset (1, 2, 3 …) atomically with the dedup check
 *   and the history append; offsets are global per channel across all nodes sharing the broker.
 * - `events.publication` is called for every publication on a channel this node subscribed to,
 *   its own publications included, in offset order per channel, at most once each.
 * - A channel's epoch changes only when its offsets or history were lost.
 * - While the backing store is unreachable, calls reject with `BrokerUnavailableError` (never
 *   accept a publication they cannot store) and `available()` is false.
 * @module
 */
import type { MessageFrame } from '@tether/protocol';
import type { PresenceStore } from './presence.js';

/** A stored publication is exactly the `message` frame subscribers receive. */
export type Publication = MessageFrame;

/** How one publication is stored: the namespace's retention and its dedup window. */
export interface BrokerPublishOptions {
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
  /** The broker lost (`false`) or regained (`true`) its backing store. */
  availability(up: boolean): void;
}

export interface Broker {
  /** Short name for logs and metrics: `memory`, `sqlite`, `redis`. */
  readonly name: string;
  /**
   * A presence store that shares this broker's backing store, for brokers whose nodes must see
   * each other's presence (Redis). Absent when in-process presence is right (memory, SQLite):
   * the server then uses `createMemoryPresence()`.
   */
  readonly presence?: PresenceStore;
  /** Connects and starts delivering events. Called once, before anything else. */
  start(events: BrokerEvents): Promise<void>;
  publish(channel: string, data: unknown, options: BrokerPublishOptions): Promise<PublishOutcome>;
  /** This node wants `publication` events for `channel`. Idempotent; one call per node, not per client. */
  subscribe(channel: string): Promise<void>;
  /** This node no longer needs `channel`. Idempotent. */
  unsubscribe(channel: string): Promise<void>;
  history(channel: string, query?: HistoryQuery): Promise<HistoryResult>;
  /** False while the backing store is unreachable (drives `/readyz`). */
  available(): boolean;
  /** Stops delivering events and releases connections. */
  close(): Promise<void>;
}
