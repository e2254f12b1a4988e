/**
 * Prometheus metrics, one `Registry` per server so several servers in one process (tests,
 * multi-node demos) never share counters.
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ServerMetrics {
  registry: Registry;
  connections: Gauge;
  connectionsTotal: Counter;
  upgradeRejections: Counter<'status'>;
  framesIn: Counter;
  framesOut: Counter;
  bytesIn: Counter;
  bytesOut: Counter;
  subscriptions: Gauge;
  publications: Counter<'source'>;
  publishLatency: Histogram;
  disconnects: Counter<'code'>;
  /** Publications written to subscribers' sockets, one per subscriber. */
  deliveries: Counter;
  /** Frames refused by the per-connection rate limit. */
  rateLimited: Counter;
}

/** Creates the server's metrics in a fresh registry. */
export function createMetrics(): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    connections: new Gauge({ name: 'tether_connections', help: 'Open WebSocket connections', registers }),
    connectionsTotal: new Counter({
      name: 'tether_connections_total',
      help: 'WebSocket connections accepted',
      registers,
    }),
    upgradeRejections: new Counter({
      name: 'tether_upgrade_rejections_total',
      help: 'Upgrade requests refused, by HTTP status',
      labelNames: ['status'],
      registers,
    }),
    framesIn: new Counter({ name: 'tether_frames_in_total', help: 'Frames received from clients', registers }),
    framesOut: new Counter({ name: 'tether_frames_out_total', help: 'Frames sent to clients', registers }),
    bytesIn: new Counter({ name: 'tether_bytes_in_total', help: 'Payload bytes received from clients', registers }),
    bytesOut: new Counter({ name: 'tether_bytes_out_total', help: 'Payload bytes sent to clients', registers }),
    subscriptions: new Gauge({ name: 'tether_subscriptions', help: 'Active channel subscriptions', registers }),
    publications: new Counter({
      name: 'tether_publications_total',
      help: 'Publications accepted, by source (client, server, http)',
      labelNames: ['source'],
      registers,
    }),
    publishLatency: new Histogram({
      name: 'tether_publish_latency_seconds',
      help: "From a publication's ts (stored by the broker) until every local subscriber's socket has it",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    disconnects: new Counter({
      name: 'tether_disconnects_total',
      help: 'Closed connections, by close code',
      labelNames: ['code'],
      registers,
    }),
    deliveries: new Counter({
      name: 'tether_deliveries_total',
      help: 'Publications sent to subscribers (one per subscriber)',
      registers,
    }),
    rateLimited: new Counter({
      name: 'tether_rate_limited_total',
      help: 'Frames refused by the per-connection rate limit',
      registers,
    }),
  };
}

const WS_ERROR_CLOSE: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 1008,
};

/**
 * The close code `ws` sent by itself when a frame broke the rules (too big 1009, invalid UTF-8
 * 1007, any other protocol error 1002), read from the `error` it emits. `ws` stops reading
 * then, so the peer's answering close frame is never seen and its `close` event says 1006;
 * the disconnect metric counts this code instead.
 */
export function closeCodeOfError(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) return undefined;
  return WS_ERROR_CLOSE[code] ?? 1002;
}
