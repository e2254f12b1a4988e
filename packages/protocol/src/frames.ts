/**
 * Frame shapes of the Tether wire protocol v1, as discriminated unions on `type`.
 * docs/PROTOCOL.md is the prose version of this file; keep the two in step.
 * @module
 */
import type { ErrorCode } from './codes.js';

/** Protocol version announced in `welcome`. */
export const PROTOCOL_VERSION = 1;

/** `{code, message}` carried by failed replies and `error` frames. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

/** One connection in a channel's presence set. A user with three tabs is three entries. */
export interface PresenceClient {
  user: string;
  connectionId: string;
  info?: unknown;
}

/** Where a subscriber left off: the last offset it saw and the epoch that offset belongs to. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

// ---------------------------------------------------------------- server → client

export interface WelcomeFrame {
  type: 'welcome';
  protocol: 1;
  connectionId: string;
  user: string;
  /** Milliseconds. The server pings every `interval`; `interval + timeout` of silence means dead. */
  heartbeat: { interval: number; timeout: number };
  /** Every per-connection limit a client can run into (see "Limits" in docs/PROTOCOL.md). */
  limits: WelcomeLimits;
  /** When the token expires (ms since epoch); send `refresh` before then. */
  expiresAt?: number;
}

/** The limits in `welcome`. The optional ones are sent by every current server; older ones omit them. */
export interface WelcomeLimits {
  /** Largest frame in bytes; a bigger one closes the connection with 1009. */
  maxPayload: number;
  /** Sustained frames per second (token-bucket refill); `ping`/`pong`/`heartbeat` never count. */
  messagesPerSecond: number;
  /** Frames that may be sent at once before `rate_limited` (the bucket's size). */
  burst?: number;
  /** Malformed frames tolerated within 10 s; one more closes with 4000. */
  maxMalformed?: number;
  /** Bytes the server queues towards this client; past it the connection is closed with 4009. */
  maxBuffered?: number;
  maxSubscriptions: number;
  /** Largest `data` in bytes of JSON on namespaces not configured otherwise; absent = only `maxPayload`. */
  maxDataSize?: number;
}

/** Liveness probe. From the server it has no `id`; a client `ping` may carry one, echoed in `pong`. */
export interface PingFrame {
  type: 'ping';
  id?: number;
}

export interface PongFrame {
  type: 'pong';
  id?: number;
}

/** Seed compatibility: counts as liveness and is echoed back unchanged. */
export interface HeartbeatFrame {
  type: 'heartbeat';
  timestamp?: number;
}

export interface ReplyOk<R = unknown> {
  type: 'reply';
  id: number;
  ok: true;
  result: R;
}

export interface ReplyError {
  type: 'reply';
  id: number;
  ok: false;
  error: ErrorBody;
}

export type ReplyFrame<R = unknown> = ReplyOk<R> | ReplyError;

/** A publication on a channel the connection is subscribed to. */
export interface MessageFrame<D = unknown> {
  type: 'message';
  channel: string;
  offset: number;
  epoch: string;
  data: D;
  /** User id of the publisher; absent for publications from server code or the HTTP API. */
  from?: string;
  ts: number;
}

/**
 * A channel's presence changes since the previous diff (at most one per channel per interval).
 * Apply `leaves`, then `joins`; both are absent on channels too large for lists, where only the
 * counts come (load the list with a `presence` command when needed).
 */
export interface PresenceDiffFrame {
  type: 'presence_diff';
  channel: string;
  /** Join events in this interval (a connection that joined twice counts twice). */
  joined: number;
  /** Leave events in this interval. */
  left: number;
  joins?: PresenceClient[];
  leaves?: PresenceClient[];
}

export interface UnsubscribedFrame {
  type: 'unsubscribed';
  channel: string;
  reason: string;
}

export interface ErrorFrame {
  type: 'error';
  error: ErrorBody;
}

export type ServerFrame =
  | WelcomeFrame
  | PingFrame
  | PongFrame
  | HeartbeatFrame
  | ReplyFrame
  | MessageFrame
  | PresenceDiffFrame
  | UnsubscribedFrame
  | ErrorFrame;

// ---------------------------------------------------------------- client → server

export interface SubscribeFrame {
  type: 'subscribe';
  id: number;
  channel: string;
  since?: StreamPosition;
}

export interface UnsubscribeFrame {
  type: 'unsubscribe';
  id: number;
  channel: string;
}

export interface PublishFrame {
  type: 'publish';
  id: number;
  channel: string;
  data: unknown;
  /** Idempotency key: a repeat within the dedup window returns the first offset and publishes nothing. */
  key?: string;
}

export interface RpcFrame {
  type: 'rpc';
  id: number;
  method: string;
  params?: unknown;
}

/**
 * Asks for one page of a channel's presence (protocol revision 3 added `limit` and `cursor`; a
 * frame without them gets the first page of the server's largest size).
 */
export interface PresenceFrame {
  type: 'presence';
  id: number;
  channel: string;
  /** At most this many entries, an integer >= 1; the server lowers it to its own maximum. */
  limit?: number;
  /** Where to go on: the `next` of the previous page, as received (opaque). */
  cursor?: string;
}

export interface RefreshFrame {
  type: 'refresh';
  id: number;
  token: string;
}

export type ClientFrame =
  | SubscribeFrame
  | UnsubscribeFrame
  | PublishFrame
  | RpcFrame
  | PresenceFrame
  | RefreshFrame
  | PingFrame
  | PongFrame
  | HeartbeatFrame;

/** Client commands that are answered by exactly one `reply`. */
export type CommandFrame = Extract<ClientFrame, { id: number }>;

// ---------------------------------------------------------------- reply results

export interface SubscribeResult {
  /** The channel's latest offset when the subscription started (0 when empty). */
  offset: number;
  epoch: string;
  /** True when `since` was given and every publication after it is in `publications`. */
  recovered: boolean;
  publications: MessageFrame[];
}

export interface PublishResult {
  offset: number;
  epoch: string;
}

/**
 * One page of a channel's presence, in a stable order (by connection id). Following `next`
 * until it is absent returns no entry twice and every entry present for the whole walk.
 */
export interface PresenceResult {
  clients: PresenceClient[];
  /** The cursor of the next page; absent on the last page. */
  next?: string;
}

export interface RefreshResult {
  expiresAt?: number;
}

/** `type` values of each direction, for validation and docs tests. */
export const SERVER_FRAME_TYPES = [
  'welcome',
  'ping',
  'pong',
  'heartbeat',
  'reply',
  'message',
  'presence_diff',
  'unsubscribed',
  'error',
] as const satisfies readonly ServerFrame['type'][];

export const CLIENT_FRAME_TYPES = [
  'subscribe',
  'unsubscribe',
  'publish',
  'rpc',
  'presence',
  'refresh',
  'ping',
  'pong',
  'heartbeat',
] as const satisfies readonly ClientFrame['type'][];
