/**
 * The client's public types: options, event payloads and the `TetherClient` facade.
 * @module
 */
import type { Codec, Duration, PublishResult, WelcomeFrame } from '@tether/protocol';
import type { ClientReconnectOptions } from './backoff.js';
import type { Emitter } from './emitter.js';
import type { ClientState } from './state.js';
import type { ClientPublishOptions, SubscribeOptions, Subscription } from './subscription.js';
import type { WebSocketConstructor } from './transport.js';

export interface ClientHeartbeatOptions {
  /**
   * Silence tolerated beyond the server's ping interval before the connection counts as dead;
   * also how long a liveness probe may go unanswered.
   * @default the `welcome` frame's `heartbeat.timeout` (plain mode: 10000)
   */
  timeout?: Duration;
  /** Plain mode only: builds the frame sent every `interval`, e.g. `() => ({ type: 'heartbeat', timestamp: Date.now() })`. @default undefined (no client heartbeat, no silence deadline) */
  send?: () => unknown;
  /** Plain mode only: time between heartbeat frames; silence of `interval + timeout` means dead. @default 30000 */
  interval?: Duration;
}

/** @deprecated Renamed {@link ClientHeartbeatOptions} (the server has its own `HeartbeatOptions`). */
export type HeartbeatOptions = ClientHeartbeatOptions;

export interface ClientOptions {
  /** Server URL; several rotate on failure; a function is called on every attempt. */
  url: string | string[] | (() => string);
  /**
   * Token sent as the `token` query parameter. A function is called on every (re)connect and again
   * after a 4001 close; when it then rejects or returns nothing, the client stops.
   * @default undefined (no token)
   */
  token?: string | (() => string | null | undefined | Promise<string | null | undefined>);
  /** Backoff between attempts. @default { minDelay: 500, maxDelay: 30000, factor: 2, jitter: 0.5, maxAttempts: Infinity } */
  reconnect?: ClientReconnectOptions;
  heartbeat?: ClientHeartbeatOptions;
  /** Frames buffered while not open, flushed in order after the next `welcome` (plain: open). @default { max: 1000 } */
  queue?: { max?: number };
  /**
   * How long a `publish`/`rpc` made while offline may wait in the queue before it rejects with
   * `TimeoutError`. @default 0 (no bound: it waits as long as the client reconnects; it rejects
   * with `DisconnectedError` when the client stops for good)
   */
  queueTimeout?: Duration;
  /** Reply timeout of `rpc`, `publish`, `subscribe`, `presence`, `ping`, counted from when the request is written (not while it waits in the queue). @default 10000 */
  requestTimeout?: Duration;
  /** Time an attempt may take from socket creation to `welcome`. @default 10000 */
  connectTimeout?: Duration;
  /**
   * `'json'` or a Codec object. MessagePack is opt-in so the default bundle stays small:
   * `import { msgpackCodec } from '@tether/protocol/msgpack'`.
   * @default 'json'
   */
  codec?: 'json' | Codec;
  /** A WebSocket implementation for runtimes without a global one (Node 20: `WebSocket` from `ws`). @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor;
  /**
   * How long to wait after the socket opens for the server's `welcome` (a Tether server sends it
   * at once) before taking the server for a plain one; a plain server's first frame ends the wait
   * sooner, and a late `welcome` still switches the connection to Tether mode.
   * @default 500
   */
  welcomeTimeout?: Duration;
  /**
   * Node with `ws` only: send the token as an `Authorization: Bearer` header instead of the `token`
   * query parameter (keeps it out of URLs). Browsers cannot set WebSocket headers.
   * @default false
   */
  authHeader?: boolean;
  /** Never Tether: open as soon as the socket opens, without waiting for a `welcome`. @default false (detected by the `welcome`) */
  plain?: boolean;
  /** Random source for backoff jitter (tests pin it). @default Math.random */
  random?: () => number;
}

export interface OpenContext {
  /** True when the server does not speak Tether (see "plain mode" in the README). */
  plain: boolean;
  /** The server's `welcome` (Tether mode). */
  welcome: WelcomeFrame | undefined;
}

export interface CloseContext {
  code: number;
  reason: string;
  /** Whether the client will try again; `false` exactly once, when it stops for good. */
  reconnect: boolean;
}

export interface ReconnectingContext {
  /** 1 for the first retry in a row. */
  attempt: number;
  /** ms until the attempt (while the browser is offline, attempts wait for `online`). */
  delay: number;
  /** The close code that caused it. */
  code: number;
}

export interface ClientStats {
  /** Round-trip time (ms): Tether mode measures it with a `ping` after `welcome` and after each server heartbeat, and on `ping()`. */
  rtt: number | undefined;
  /** Successful reconnections since creation. */
  reconnects: number;
  /** Frames waiting in the offline queue. */
  queued: number;
  lastClose: { code: number; reason: string } | undefined;
}

export type ClientEvents = {
  state: [next: ClientState, prev: ClientState];
  open: [OpenContext];
  /**
   * A connection that was open has closed, or the client stopped for good (`reconnect: false`:
   * `close()`, a close code that forbids retrying, `maxAttempts` reached, no fresh token after 4001).
   */
  close: [CloseContext];
  /** Every inbound frame except `welcome`/`ping`/`pong`/`reply`: parsed JSON, or the raw string. */
  message: [unknown];
  /** Diagnostics: socket errors, server `error` frames, reported close codes, listener exceptions. */
  error: [unknown];
  reconnecting: [ReconnectingContext];
};

export interface TetherClient {
  readonly state: ClientState;
  /** True from a liveness probe (tab visible again, `pageshow`, `online`) until the server answers. */
  readonly stale: boolean;
  /** True when connected to a server that does not speak Tether. */
  readonly plain: boolean;
  readonly stats: ClientStats;
  on: Emitter<ClientEvents>['on'];
  once: Emitter<ClientEvents>['once'];
  off: Emitter<ClientEvents>['off'];
  listenerCount: Emitter<ClientEvents>['listenerCount'];
  /** Idempotent. Resolves on `welcome` (plain: on open); rejects only when the client gives up. */
  connect(): Promise<void>;
  /**
   * Reconnect now: while waiting out a backoff, the next attempt runs at once (even offline);
   * while open, the connection is verified with a liveness probe; idle or closed, `connect()`.
   */
  reconnect(): void;
  /** Closes with 1000 and stops: no reconnect, every timer and listener cleared, pending requests rejected. */
  close(): void;
  /** Sends a raw frame (strings as they are, objects encoded). Returns false when it was queued. Throws `QueueFullError`. */
  send(data: unknown): boolean;
  rpc<R = unknown>(method: string, params?: unknown, options?: { timeout?: Duration }): Promise<R>;
  /**
   * Publishes with an idempotency key (`options.key`, or a random one), so it is resent after a
   * reconnect without doubling; pass your own stable `key` to retry safely after a `TimeoutError`
   * or a page reload.
   */
  publish(channel: string, data: unknown, options?: ClientPublishOptions): Promise<PublishResult>;
  subscribe<D = unknown>(channel: string, options?: SubscribeOptions<D>): Subscription<D>;
  /** Resolves with the round-trip time in ms. */
  ping(): Promise<number>;
}
