/**
 * `@tether/server/admin`: what the admin channel carries and the admin HTTP API answers. Types
 * only, with no imports, so the admin page (`@tether/admin`) can share them without Node types.
 * @module
 */

/** The admin namespace: reserved for the dashboard while `admin` is on. */
export const ADMIN_NAMESPACE = 'tether-admin';
/** Every watched node publishes an {@link AdminSnapshot} here once per interval. */
export const STATS_CHANNEL = 'tether-admin:stats';

/** A node of the cluster, as it announces itself through the broker's presence store. */
export interface AdminNode {
  id: string;
  /** `host:port` the node listens on. */
  address: string;
  /** The broker's name: `memory`, `sqlite`, `redis`. */
  broker: string;
  /** ms since the epoch. */
  startedAt: number;
}

/** One connection of a node. */
export interface AdminConnection {
  id: string;
  user: string;
  address: string;
  /** When it was admitted, ms since the epoch. */
  since: number;
  /** Round-trip time of the last WebSocket ping, ms (null before the first heartbeat). */
  rtt: number | null;
  subscriptions: number;
  /** Bytes queued towards the client. */
  buffered: number;
  admin: boolean;
}

/** One channel a node serves, with that node's live subscribers. */
export interface AdminChannel {
  channel: string;
  subscribers: number;
}

/** A channel's history as the broker keeps it (`GET /api/admin/channels`). */
export interface AdminChannelDetail extends AdminChannel {
  /** Publications retained for recovery. */
  historySize: number;
  /** The channel's latest offset (0 when nothing was published). */
  lastOffset: number;
  epoch: string;
}

/** Counters since the node started, read from its Prometheus registry. */
export interface AdminTotals {
  connectionsAccepted: number;
  publications: number;
  deliveries: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  rateLimited: number;
  upgradeRejections: number;
  /** Closed connections by close code. */
  disconnects: Record<string, number>;
}

/** Per second, over the last interval. */
export interface AdminRates {
  publicationsIn: number;
  publicationsOut: number;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  rateLimited: number;
  disconnects: number;
  slowConsumers: number;
}

/** Publish → socket-write latency over the last interval, in ms (estimated from histogram buckets). */
export interface AdminLatency {
  p50: number;
  p90: number;
  p99: number;
  /** Publications measured in the interval. */
  count: number;
}

export interface AdminSnapshot {
  node: AdminNode;
  /** ms since the epoch. */
  at: number;
  /** ms the rates and latency cover; 0 on the first snapshot after nobody watched (rates null). */
  interval: number;
  connections: number;
  subscriptions: number;
  rates: AdminRates | null;
  latency: AdminLatency | null;
  totals: AdminTotals;
  /** The channels with the most subscribers here (at most 100), and how many there are. */
  channels: { total: number; top: AdminChannel[] };
  /** The newest connections here (at most 200), and how many there are. */
  connectionList: { total: number; rows: AdminConnection[] };
  /** Users an operator refused, until when (ms since the epoch). */
  refused: { user: string; until: number }[];
  /** Every live node, in the snapshots of nodes that have watchers. */
  nodes?: AdminNode[];
}

/** `GET /api/admin/session`: who is logged in and where the page connects. */
export interface AdminSession {
  user: string;
  node: AdminNode;
  /** WebSocket path; the page adds `?admin=1` so the login cookie authenticates it. */
  wsPath: string;
  /** ms between snapshots. */
  interval: number;
}
