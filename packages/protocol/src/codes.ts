/**
 * Close codes, error codes, and the client's policy per close code — as data, in one table
 * that the client follows and the server and docs are tested against.
 * @module
 */

/** String codes of failed replies, `error` frames and HTTP API errors. */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'too_large',
  'rate_limited',
  'unavailable',
  'timeout',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** WebSocket close codes the Tether server uses (RFC 6455 range and the 4000 application range). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  /** A WebSocket frame that breaks RFC 6455 (unmasked, reserved bits or opcodes, a bad close code). */
  PROTOCOL_ERROR: 1002,
  /** Not sent on the wire: the peer vanished without a close frame. */
  ABNORMAL: 1006,
  /** A text frame that is not valid UTF-8 (on `tether.v1`). */
  INVALID_DATA: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_FRAMES: 4000,
  UNAUTHORIZED: 4001,
  FORBIDDEN: 4003,
  RATE_LIMITED: 4008,
  SLOW_CONSUMER: 4009,
  HEARTBEAT_TIMEOUT: 4010,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * How long to wait before the next attempt:
 * `quick` — a short jittered pause (the server is restarting and others are coming back too);
 * `normal` — the exponential backoff; `long` — the backoff from a higher floor (overload, abuse).
 */
export type BackoffClass = 'quick' | 'normal' | 'long';

export interface ClosePolicy {
  /** Reconnect after this close? */
  reconnect: boolean;
  /** Which backoff to use when reconnecting. */
  backoff: BackoffClass;
  /** Fetch a fresh token before the next attempt (and stop if none can be had). */
  refreshToken: boolean;
  /** Surface the close as an `error` to the application. */
  report: boolean;
  /** One line for docs and logs. */
  meaning: string;
}

const policy = (
  reconnect: boolean,
  backoff: BackoffClass,
  meaning: string,
  extra: Partial<Pick<ClosePolicy, 'refreshToken' | 'report'>> = {},
): ClosePolicy => ({ reconnect, backoff, refreshToken: false, report: false, meaning, ...extra });

/** The client's reaction to each close code. Codes not listed follow {@link DEFAULT_CLOSE_POLICY}. */
export const CLOSE_POLICY: Readonly<Record<number, ClosePolicy>> = {
  1000: policy(false, 'normal', 'normal close'),
  1001: policy(true, 'quick', 'server going away'),
  1002: policy(true, 'normal', 'WebSocket protocol error', { report: true }),
  1006: policy(true, 'normal', 'connection lost without a close frame'),
  1007: policy(true, 'normal', 'text frame not valid UTF-8', { report: true }),
  1008: policy(true, 'normal', 'policy violation'),
  1009: policy(true, 'normal', 'frame larger than maxPayload', { report: true }),
  1011: policy(true, 'normal', 'internal server error'),
  1012: policy(true, 'quick', 'server restarting (draining)'),
  1013: policy(true, 'long', 'server overloaded, try later'),
  4000: policy(false, 'normal', 'repeated malformed frames', { report: true }),
  4001: policy(true, 'normal', 'token expired or unauthorized', { refreshToken: true }),
  4003: policy(false, 'normal', 'forbidden', { report: true }),
  4008: policy(true, 'long', 'rate limited', { report: true }),
  4009: policy(true, 'normal', 'slow consumer: send buffer over limit'),
  4010: policy(true, 'normal', 'heartbeat timeout'),
};

/** Any close code not in the table: a network or server problem worth retrying. */
export const DEFAULT_CLOSE_POLICY: ClosePolicy = policy(true, 'normal', 'unexpected close');

export function closePolicy(code: number): ClosePolicy {
  return CLOSE_POLICY[code] ?? DEFAULT_CLOSE_POLICY;
}
