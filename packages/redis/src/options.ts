/**
 * The options of the Redis broker, their defaults, and their checks.
 * @module
 */
import { type Duration, toMs } from '@tether/protocol';
import type { DelayBounds } from './connection.js';

export interface RedisBrokerOptions {
  /** Redis URL. @default 'redis://127.0.0.1:6379' */
  url?: string;
  /**
   * Prefix of every key and pub/sub channel, so several apps (or test runs) can share one Redis.
   * A `:` is appended when missing. @default 'tether:'
   */
  prefix?: string;
  /** How often this node sweeps expired presence entries of its channels (announcing `leave`). @default 10_000 (ms) */
  sweepInterval?: Duration;
  /**
   * How long a channel's offset counter and epoch outlive its last publication when neither
   * history nor keys keep it longer. After that the channel starts a new epoch.
   * @default 86_400_000 (ms, 24 h)
   */
  idleChannelTtl?: Duration;
  /** How long `start()` waits for the first connection before rejecting. @default 10_000 (ms) */
  connectTimeout?: Duration;
  /** Reconnection delays: doubling from `minDelay` up to `maxDelay`. @default { minDelay: 50, maxDelay: 2000 } (ms) */
  reconnect?: { minDelay?: Duration; maxDelay?: Duration };
  /** @deprecated Use `reconnect: { minDelay, maxDelay }`; this spelling goes away in the next release. */
  reconnectDelay?: { min: number; max: number };
}

/** Every default of `RedisBrokerOptions`, in one place (times in ms). */
export const REDIS_DEFAULTS = {
  url: 'redis://127.0.0.1:6379',
  prefix: 'tether:',
  sweepInterval: 10_000,
  idleChannelTtl: 86_400_000,
  connectTimeout: 10_000,
  reconnect: { minDelay: 50, maxDelay: 2000 },
} as const;

export interface ResolvedOptions {
  url: string;
  prefix: string;
  sweepInterval: number;
  idleChannelTtl: number;
  connectTimeout: number;
  delay: DelayBounds;
}

/** Applies the defaults and checks the options; throws `TypeError`/`RangeError` naming the option. */
export function resolveOptions(options: RedisBrokerOptions): ResolvedOptions {
  const d = REDIS_DEFAULTS;
  const rawPrefix = options.prefix ?? d.prefix;
  if (typeof rawPrefix !== 'string') throw new TypeError('createRedisBroker: `prefix` must be a string');
  const r = options.reconnect;
  const old = options.reconnectDelay;
  const delay = {
    min: r?.minDelay !== undefined ? toMs(r.minDelay, 'reconnect.minDelay') : (old?.min ?? d.reconnect.minDelay),
    max: r?.maxDelay !== undefined ? toMs(r.maxDelay, 'reconnect.maxDelay') : (old?.max ?? d.reconnect.maxDelay),
  };
  if (!(delay.min > 0 && delay.max >= delay.min))
    throw new RangeError('createRedisBroker: `reconnect` needs 0 < minDelay <= maxDelay');
  return {
    url: options.url ?? d.url,
    // `tether` and `tether:` mean the same: keys read `tether:{room:lobby}:meta` either way.
    prefix: rawPrefix === '' || rawPrefix.endsWith(':') ? rawPrefix : `${rawPrefix}:`,
    sweepInterval: toMs(options.sweepInterval ?? d.sweepInterval, 'sweepInterval'),
    idleChannelTtl: toMs(options.idleChannelTtl ?? d.idleChannelTtl, 'idleChannelTtl'),
    connectTimeout: toMs(options.connectTimeout ?? d.connectTimeout, 'connectTimeout'),
    delay,
  };
}
