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
  /**
   * PING every connection every `interval`; one that does not answer within `timeout` is taken
   * as lost (a partition or half-open link sends no FIN, so nothing else notices): the broker
   * reports unavailable at once — subscribers are told, publishes refused — and replaces its
   * connections, resubscribing and filling the gap from history once Redis answers again. So a
   * silent link is noticed within `interval + timeout`. `false` turns the check off.
   * @default { interval: 5_000, timeout: 3_000 } (ms)
   */
  healthCheck?: { interval?: Duration; timeout?: Duration } | false;
}

/** Every default of `RedisBrokerOptions`, in one place (times in ms). */
export const REDIS_DEFAULTS = {
  url: 'redis://127.0.0.1:6379',
  prefix: 'tether:',
  sweepInterval: 10_000,
  idleChannelTtl: 86_400_000,
  connectTimeout: 10_000,
  reconnect: { minDelay: 50, maxDelay: 2000 },
  healthCheck: { interval: 5_000, timeout: 3_000 },
} as const;

export interface ResolvedOptions {
  url: string;
  prefix: string;
  sweepInterval: number;
  idleChannelTtl: number;
  connectTimeout: number;
  delay: DelayBounds;
  /** Undefined when turned off. */
  healthCheck: { interval: number; timeout: number } | undefined;
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
    healthCheck: healthCheckOf(options.healthCheck),
  };
}

function healthCheckOf(o: RedisBrokerOptions['healthCheck']): ResolvedOptions['healthCheck'] {
  if (o === false) return undefined;
  const d = REDIS_DEFAULTS.healthCheck;
  const interval = toMs(o?.interval ?? d.interval, 'healthCheck.interval');
  const timeout = toMs(o?.timeout ?? d.timeout, 'healthCheck.timeout');
  if (!(interval > 0 && timeout > 0))
    throw new RangeError('createRedisBroker: `healthCheck` needs interval > 0 and timeout > 0');
  return { interval, timeout };
}
