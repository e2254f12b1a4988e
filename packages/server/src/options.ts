/**
 * Options of `createServer`, their defaults, and their validation.
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AuthOptions } from './auth.js';
import type { Broker } from './broker.js';
import { type Duration, toMs } from '@tether/protocol';
import type { Logger } from './logger.js';
import type { NamespaceOptions } from './namespaces.js';
import type { ClientContext } from './session.js';

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
}

export interface HeartbeatOptions {
  /** How often the server sends `ping`, in ms. @default 25000 */
  interval?: number;
  /** Extra silence tolerated after `interval` before closing with 4010, in ms. @default 10000 */
  timeout?: number;
}

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
  /** Shared state between nodes; the server starts it in `listen()` and closes it in `close()`. @default memoryBroker() */
  broker?: Broker;
  /** Options per namespace; `'*'` applies to every namespace not listed. See {@link NamespaceOptions}. */
  namespaces?: Record<string, NamespaceOptions>;
  /** Extra permission check per channel action. */
  authorize?: AuthorizeHook;
  limits?: LimitOptions;
  heartbeat?: HeartbeatOptions;
  /** Origins allowed to open sockets besides the server's own; `'*'` allows any. @default [] (same origin only) */
  allowedOrigins?: string[];
  /** How long a publish `key` is remembered for deduplication. @default '2m' */
  dedupTtl?: Duration;
  /** Presence entries expire this long after their last refresh (refreshed every third of it). @default '60s' */
  presenceTtl?: Duration;
  /** Logger to use (pino). @default a pino JSON logger at `logLevel` */
  logger?: Logger;
  /** Level of the default logger. @default process.env.TETHER_LOG_LEVEL ?? 'info' */
  logLevel?: string;
  /**
   * Development only: `POST /api/dev/login {user, info?, channels?}` returns a token signed with
   * `auth.jwtSecret`. Refused (TypeError) when `NODE_ENV=production`. @default false
   */
  devLogin?: boolean;
  /** Default deadline of `close()`, in ms. @default 10000 */
  drainDeadline?: number;
  /** How long `close()` keeps answering `/readyz` with 503 before it closes clients, in ms. @default 0 */
  drainDelay?: number;
  /** An RPC handler still running after this long is answered with `timeout` (it keeps running). @default '30s' */
  rpcTimeout?: Duration;
  /** Handles HTTP requests no Tether route matched (own server only). @default 404 */
  onRequest?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** @internal Options with every default applied. */
export interface Resolved {
  port: number;
  host: string;
  path: string;
  limits: Required<LimitOptions>;
  heartbeat: Required<HeartbeatOptions>;
  allowedOrigins: string[];
  dedupTtl: number;
  presenceTtl: number;
  drainDeadline: number;
  drainDelay: number;
  rpcTimeout: number;
}

const positive = (value: number | undefined, fallback: number, name: string, min = 1): number => {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
    throw new RangeError(`${name} must be a number >= ${min}, got ${String(value)}`);
  return value;
};

/** @internal Applies defaults and validates; throws `RangeError` naming the bad option. */
export function resolveOptions(o: ServerOptions): Resolved {
  const l = o.limits ?? {};
  const mps = positive(l.messagesPerSecond, 50, 'limits.messagesPerSecond');
  return {
    port: positive(o.port, 8088, 'port', 0),
    host: o.host ?? '0.0.0.0',
    path: o.path ?? '/ws',
    limits: {
      maxPayload: positive(l.maxPayload, 64 * 1024, 'limits.maxPayload', 64),
      maxBuffered: positive(l.maxBuffered, 1024 * 1024, 'limits.maxBuffered', 1024),
      messagesPerSecond: mps,
      burst: positive(l.burst, Math.max(1, Math.ceil(mps * 2)), 'limits.burst'),
      maxRejected: positive(l.maxRejected, 100, 'limits.maxRejected', 0),
      maxMalformed: positive(l.maxMalformed, 10, 'limits.maxMalformed', 0),
      maxSubscriptions: positive(l.maxSubscriptions, 100, 'limits.maxSubscriptions'),
      maxConnections: positive(l.maxConnections, 10_000, 'limits.maxConnections'),
    },
    heartbeat: {
      interval: positive(o.heartbeat?.interval, 25_000, 'heartbeat.interval', 10),
      timeout: positive(o.heartbeat?.timeout, 10_000, 'heartbeat.timeout', 0),
    },
    allowedOrigins: o.allowedOrigins ?? [],
    dedupTtl: toMs(o.dedupTtl ?? '2m', 'dedupTtl'),
    presenceTtl: Math.max(1_000, toMs(o.presenceTtl ?? '60s', 'presenceTtl')),
    drainDeadline: positive(o.drainDeadline, 10_000, 'drainDeadline', 0),
    drainDelay: positive(o.drainDelay, 0, 'drainDelay', 0),
    rpcTimeout: Math.max(1, toMs(o.rpcTimeout ?? '30s', 'rpcTimeout')),
  };
}
