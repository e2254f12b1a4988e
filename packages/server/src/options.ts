/**
 * Options of `createServer`, their defaults, and their validation.
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Broker, PresenceStore } from '@tether/broker';
import { type Duration, toMs } from '@tether/protocol';
import type { AdminOptions } from './admin/index.js';
import type { AuthOptions } from './auth.js';
import type { ClientContext } from './client-context.js';
import type { Logger } from './logger.js';
import type { NamespaceOptions } from './namespaces.js';
import type { SessionSettings } from './session.js';

/**
 * Every default of `createServer` (and so of `tether serve`), in one place. `limits.burst`
 * defaults to twice `messagesPerSecond`; `allowedOrigins` to none (same origin only). `serve`
 * holds the few that `tether serve` sets differently: a drain for a rolling update behind a load
 * balancer (Kubernetes: they fit the default `terminationGracePeriodSeconds` of 30 s), where
 * `close()` in a library or a test should be quick.
 */
export const DEFAULTS = {
  port: 8088,
  host: '0.0.0.0',
  path: '/ws',
  limits: {
    maxPayload: 65_536,
    maxBuffered: 1_048_576,
    messagesPerSecond: 50,
    maxRejected: 100,
    maxMalformed: 10,
    maxSubscriptions: 100,
    maxConnections: 10_000,
    apiKeyFailures: 20,
  },
  heartbeat: { interval: 25_000, timeout: 10_000 },
  dedupTtl: '2m',
  presenceTtl: '60s',
  presenceInterval: '100ms',
  presenceListLimit: 200,
  maxPresencePage: 1000,
  drainDeadline: 10_000,
  drainDelay: 0,
  drainSpread: 1_000,
  rpcTimeout: '30s',
  serve: { drainDelay: '5s', drainSpread: '10s', drainDeadline: '25s' },
} as const;

/** Per-connection and per-server limits. Every one has a default. */
export interface LimitOptions {
  /** Largest incoming frame in bytes; bigger closes the connection with 1009. Also caps HTTP API bodies (413). @default 65536 */
  maxPayload?: number;
  /** Bytes allowed to queue towards one client; past it the client is closed with 4009. @default 1048576 */
  maxBuffered?: number;
  /** Sustained frames per second per connection (token bucket refill rate). @default 50 */
  messagesPerSecond?: number;
  /** Token bucket size: frames a connection may send in a burst. @default 2 × messagesPerSecond */
  burst?: number;
  /** Frames refused with `rate_limited` within 10 s before the connection is closed with 4008. @default 100 */
  maxRejected?: number;
  /** Malformed frames tolerated within 10 s; one more closes with 4000. @default 10 */
  maxMalformed?: number;
  /** Channels one connection may be subscribed to. @default 100 */
  maxSubscriptions?: number;
  /** Open connections per server; more are refused with HTTP 503 before the upgrade. @default 10000 */
  maxConnections?: number;
  /**
   * Failed API-key attempts one address may make per minute on the HTTP API; past it, every
   * request of that address that needs the key gets 429 (with `Retry-After`) until its minute
   * is over, even with the right key. Behind a proxy every client shares the proxy's address.
   * @default 20
   */
  apiKeyFailures?: number;
}

export interface ServerHeartbeatOptions {
  /** How often the server sends `ping`. @default 25000 (ms) */
  interval?: Duration;
  /** Extra silence tolerated after `interval` before closing with 4010. @default 10000 (ms) */
  timeout?: Duration;
}

/** @deprecated Renamed {@link ServerHeartbeatOptions} (the client has its own `HeartbeatOptions`). */
export type HeartbeatOptions = ServerHeartbeatOptions;

/** What a connection wants to do with a channel, as passed to `authorize`. */
export type ChannelAction = 'subscribe' | 'publish' | 'presence';

/**
 * Extra permission check, run after the built-in namespace rules allowed the action: return
 * `false` (or throw an {@link RpcError}) to refuse. It can narrow the rules, never widen them.
 */
export type AuthorizeHook = (
  ctx: ClientContext,
  channel: string,
  action: ChannelAction,
) => boolean | undefined | Promise<boolean | undefined>;

/** An RPC method. Its return value is the reply's `result`; throw {@link RpcError} for typed errors. */
export type RpcHandler = (params: unknown, ctx: ClientContext) => unknown;

export interface ServerOptions {
  /** Port to listen on; `0` picks a free one (read it from `listen()`'s result). @default 8088 */
  port?: number;
  /** Interface to bind. @default '0.0.0.0' */
  host?: string;
  /**
   * Attach to an existing `http.Server` instead of creating one. The WebSocket endpoint is added
   * as an `upgrade` listener; call `tether.handleRequest(req, res)` from your request handler
   * for the HTTP API. `close()` then leaves the server itself running.
   */
  server?: Server;
  /** WebSocket endpoint path. @default '/ws' */
  path?: string;
  /** How connections authenticate (JWT key or hooks). Required. */
  auth: AuthOptions;
  /** Key for the HTTP API (`Authorization: Bearer <key>`); without one the API answers 401. */
  apiKey?: string;
  /** Shared state between nodes; the server starts it in `listen()` and closes it in `close()`. @default createMemoryBroker() */
  broker?: Broker;
  /**
   * Who is connected to each channel; started and closed with the broker.
   * @default the broker's own `broker.presence` (Redis), else `createMemoryPresence()`
   */
  presence?: PresenceStore;
  /** Options per namespace; `'*'` applies to every namespace not listed. See {@link NamespaceOptions}. */
  namespaces?: Record<string, NamespaceOptions>;
  /** Extra permission check per channel action. */
  authorize?: AuthorizeHook;
  limits?: LimitOptions;
  heartbeat?: ServerHeartbeatOptions;
  /** Origins allowed to open sockets besides the server's own; `'*'` allows any. @default [] (same origin only) */
  allowedOrigins?: string[];
  /** How long a publish `key` is remembered for deduplication. @default '2m' */
  dedupTtl?: Duration;
  /** Presence entries expire this long after their last refresh (refreshed every third of it). @default '60s' */
  presenceTtl?: Duration;
  /**
   * Joins and leaves of a channel are batched into one `presence_diff` frame per channel per
   * interval. @default '100ms'
   */
  presenceInterval?: Duration;
  /**
   * Above this many subscribers on a node, a channel's `presence_diff` frames carry counts
   * instead of lists, and come less often (the list stays available with a `presence` command).
   * @default 200
   */
  presenceListLimit?: number;
  /**
   * The most entries one `presence` reply (or `GET /api/presence` answer) carries: a larger
   * `limit` is lowered to it, and a request without `limit` gets a page of this size (with
   * `next` when more follow). About 100 KB of JSON at 100 bytes an entry. @default 1000
   */
  maxPresencePage?: number;
  /** Logger to use (pino). @default a pino JSON logger at `logLevel` */
  logger?: Logger;
  /** Level of the default logger. @default process.env.TETHER_LOG_LEVEL ?? 'info' */
  logLevel?: string;
  /**
   * Development only: `POST /api/dev/login {user, info?, channels?}` returns a token signed with
   * `auth.jwtSecret`. Refused (TypeError) when `NODE_ENV=production`. @default false
   */
  devLogin?: boolean;
  /** Default deadline of `close()`: everything is closed by then. @default 10000 (ms) */
  drainDeadline?: Duration;
  /**
   * How long `close()` keeps serving its clients (and the HTTP API) while `/readyz` answers 503
   * and upgrades are refused, so load balancers stop sending new ones. At most half the deadline.
   * @default 0
   */
  drainDelay?: Duration;
  /**
   * After the delay, clients are closed with 1012 in batches spread over this window (batches of
   * at least 10 clients, at least 100 ms apart), so they do not all reconnect to the other nodes
   * at once. At most half of what the deadline leaves after the delay. @default 1000 (ms)
   */
  drainSpread?: Duration;
  /** An RPC handler still running after this long is answered with `timeout` (it keeps running). @default '30s' */
  rpcTimeout?: Duration;
  /** Handles HTTP requests no Tether route matched (own server only). @default 404 */
  onRequest?: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * The admin dashboard: `/admin`, the `tether-admin:stats` channel and `/api/admin/*`, for
   * operators only (the API key, or a token with `admin: true`). Needs `apiKey` or a way to verify
   * tokens. See the README's admin section. @default false
   */
  admin?: boolean | AdminOptions;
}

/** Options of `tether.close()`; each defaults to the server option of the same name. */
export interface CloseOptions {
  /** Everything is closed by then; stragglers are terminated. @default drainDeadline (10000 ms) */
  deadline?: Duration;
  /** Serving while unready before the first client is closed. @default drainDelay (0) */
  delay?: Duration;
  /** Window over which clients are closed in batches. @default drainSpread (1000 ms) */
  spread?: Duration;
}

/** Options of `tether.publish` from server code. */
export interface ServerPublishOptions {
  /** Idempotency key: a repeat within the dedup window returns the first `{offset, epoch}`. */
  key?: string;
}

/** @internal Options with every default applied, times in ms. */
export interface Resolved {
  port: number;
  host: string;
  path: string;
  limits: Required<LimitOptions>;
  heartbeat: { interval: number; timeout: number };
  allowedOrigins: string[];
  dedupTtl: number;
  presenceTtl: number;
  presenceInterval: number;
  presenceListLimit: number;
  maxPresencePage: number;
  drainDeadline: number;
  drainDelay: number;
  drainSpread: number;
  rpcTimeout: number;
}

const atLeast = (value: number, min: number, name: string): number => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
    throw new RangeError(`${name} must be a number >= ${min}, got ${String(value)}`);
  return value;
};
const num = (value: number | undefined, fallback: number, name: string, min = 1): number =>
  value === undefined ? fallback : atLeast(value, min, name);
const int = (value: number | undefined, fallback: number, name: string): number => {
  if (value !== undefined && !Number.isSafeInteger(value))
    throw new RangeError(`${name} must be an integer, got ${String(value)}`);
  return num(value, fallback, name);
};
/** A duration option in ms; `min` in ms. */
export const ms = (value: Duration | undefined, fallback: Duration, name: string, min = 0): number =>
  atLeast(toMs(value ?? fallback, name), min, name);

/** @internal Applies defaults and validates; throws `RangeError` naming the bad option. */
export function resolveOptions(o: ServerOptions): Resolved {
  const l = o.limits ?? {};
  const d = DEFAULTS.limits;
  const mps = num(l.messagesPerSecond, d.messagesPerSecond, 'limits.messagesPerSecond');
  return {
    port: num(o.port, DEFAULTS.port, 'port', 0),
    host: o.host ?? DEFAULTS.host,
    path: o.path ?? DEFAULTS.path,
    limits: {
      maxPayload: num(l.maxPayload, d.maxPayload, 'limits.maxPayload', 64),
      maxBuffered: num(l.maxBuffered, d.maxBuffered, 'limits.maxBuffered', 1024),
      messagesPerSecond: mps,
      burst: num(l.burst, Math.max(1, Math.ceil(mps * 2)), 'limits.burst'),
      maxRejected: num(l.maxRejected, d.maxRejected, 'limits.maxRejected', 0),
      maxMalformed: num(l.maxMalformed, d.maxMalformed, 'limits.maxMalformed', 0),
      maxSubscriptions: num(l.maxSubscriptions, d.maxSubscriptions, 'limits.maxSubscriptions'),
      maxConnections: num(l.maxConnections, d.maxConnections, 'limits.maxConnections'),
      apiKeyFailures: num(l.apiKeyFailures, d.apiKeyFailures, 'limits.apiKeyFailures'),
    },
    heartbeat: {
      interval: ms(o.heartbeat?.interval, DEFAULTS.heartbeat.interval, 'heartbeat.interval', 10),
      timeout: ms(o.heartbeat?.timeout, DEFAULTS.heartbeat.timeout, 'heartbeat.timeout'),
    },
    allowedOrigins: o.allowedOrigins ?? [],
    dedupTtl: ms(o.dedupTtl, DEFAULTS.dedupTtl, 'dedupTtl'),
    presenceTtl: Math.max(1_000, ms(o.presenceTtl, DEFAULTS.presenceTtl, 'presenceTtl')),
    presenceInterval: ms(o.presenceInterval, DEFAULTS.presenceInterval, 'presenceInterval', 1),
    presenceListLimit: num(o.presenceListLimit, DEFAULTS.presenceListLimit, 'presenceListLimit', 0),
    maxPresencePage: int(o.maxPresencePage, DEFAULTS.maxPresencePage, 'maxPresencePage'),
    drainDeadline: ms(o.drainDeadline, DEFAULTS.drainDeadline, 'drainDeadline'),
    drainDelay: ms(o.drainDelay, DEFAULTS.drainDelay, 'drainDelay'),
    drainSpread: ms(o.drainSpread, DEFAULTS.drainSpread, 'drainSpread'),
    rpcTimeout: Math.max(1, ms(o.rpcTimeout, DEFAULTS.rpcTimeout, 'rpcTimeout')),
  };
}

/** @internal The per-connection settings of resolved options. */
export function sessionSettings({ limits, heartbeat }: Resolved): SessionSettings {
  return {
    heartbeatInterval: heartbeat.interval,
    heartbeatTimeout: heartbeat.timeout,
    maxBuffered: limits.maxBuffered,
    messagesPerSecond: limits.messagesPerSecond,
    burst: limits.burst,
    maxRejected: limits.maxRejected,
    maxMalformed: limits.maxMalformed,
    closeTimeout: Math.min(5_000, heartbeat.interval + heartbeat.timeout),
  };
}
