/**
 * The client's defaults, in one object, and the options resolved against them: durations in ms,
 * the WebSocket constructor and the codec checked once, up front.
 * @module
 */
import { type Codec, type Duration, durationMs, jsonCodec } from '@tether/protocol';
import { DEFAULT_RECONNECT, type ReconnectOptions } from './backoff.js';
import type { WebSocketConstructor } from './transport.js';
import type { ClientHeartbeatOptions, ClientOptions } from './types.js';

/** Every default of `createClient` (times in ms). `@tether/vue` reads them from here too. */
export const CLIENT_DEFAULTS = {
  reconnect: DEFAULT_RECONNECT,
  /** Plain mode: the heartbeat interval, and the silence tolerated when no welcome announced one. */
  heartbeat: { interval: 30_000, timeout: 10_000 },
  queue: { max: 1000 },
  /** 0: a queued request waits for the connection as long as the client keeps reconnecting. */
  queueTimeout: 0,
  requestTimeout: 10_000,
  connectTimeout: 10_000,
  welcomeTimeout: 500,
} as const;

/** @internal Options with every default applied. */
export interface ResolvedOptions {
  WebSocket: WebSocketConstructor;
  codec: Codec;
  reconnect: ReconnectOptions;
  heartbeat: { timeout: number | undefined; interval: number; send: ClientHeartbeatOptions['send'] };
  queueMax: number;
  /** 0: no bound. */
  queueTimeout: number;
  requestTimeout: number;
  connectTimeout: number;
  welcomeTimeout: number;
  random: () => number;
}

/** @internal A {@link Duration} in ms; throws a RangeError naming `what` when it is not one. */
export function ms(value: Duration, what: string): number {
  const n = durationMs(value);
  if (Number.isNaN(n)) throw new RangeError(`tether: ${what} must be ms or a duration like '30s', got ${value}`);
  return n;
}

/** The top-level time options, each resolved the same way. */
const TIMES = ['queueTimeout', 'requestTimeout', 'connectTimeout', 'welcomeTimeout'] as const;

/** @internal Applies {@link CLIENT_DEFAULTS}; throws a TypeError or RangeError naming the bad option. */
export function resolveOptions(o: ClientOptions): ResolvedOptions {
  const WebSocket = o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!WebSocket) throw new TypeError("tether: no WebSocket implementation; on Node 20 pass `WebSocket` from 'ws'");
  if (!o.url) throw new TypeError('tether: the `url` option is required');
  const codec = o.codec === undefined || o.codec === 'json' ? jsonCodec : o.codec;
  if (typeof codec?.encode !== 'function')
    throw new TypeError(
      "tether: `codec` must be 'json' or a Codec object, e.g. `msgpackCodec` from '@tether/protocol/msgpack'",
    );
  const d = CLIENT_DEFAULTS;
  const r = o.reconnect ?? {};
  const hb = o.heartbeat ?? {};
  // The top-level times are set below, in TIMES order, after the nested ones.
  const resolved: Partial<ResolvedOptions> = {
    WebSocket,
    codec,
    reconnect: {
      ...d.reconnect,
      ...r,
      minDelay: ms(r.minDelay ?? r.initialDelay ?? d.reconnect.minDelay, 'reconnect.minDelay'),
      maxDelay: ms(r.maxDelay ?? d.reconnect.maxDelay, 'reconnect.maxDelay'),
    },
    heartbeat: {
      timeout: hb.timeout === undefined ? undefined : ms(hb.timeout, 'heartbeat.timeout'),
      interval: ms(hb.interval ?? d.heartbeat.interval, 'heartbeat.interval'),
      send: hb.send,
    },
    queueMax: o.queue?.max ?? d.queue.max,
    random: o.random ?? Math.random,
  };
  for (const k of TIMES) resolved[k] = ms(o[k] ?? d[k], k);
  return resolved as ResolvedOptions;
}
