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

/** What the client does after a close: a {@link ClosePolicy} without its words. */
export type CloseReaction = Omit<ClosePolicy, 'meaning'>;

const react = (
  reconnect: boolean,
  backoff: BackoffClass,
  extra: Partial<Pick<ClosePolicy, 'refreshToken' | 'report'>> = {},
): CloseReaction => ({ reconnect, backoff, refreshToken: false, report: false, ...extra });

/** Any close code not listed reconnects with the normal backoff, unreported. */
const DEFAULT_REACTION = react(true, 'normal');

// Only the codes that differ from DEFAULT_REACTION (so 1006, 1008, 1011, 4009 and 4010 are not
// listed: they reconnect normally, unreported); every code in MEANINGS is in CLOSE_POLICY.
const REACTIONS: Readonly<Record<number, CloseReaction>> = {
  1000: react(false, 'normal'),
  1001: react(true, 'quick'),
  1002: react(true, 'normal', { report: true }),
  1007: react(true, 'normal', { report: true }),
  1009: react(true, 'normal', { report: true }),
  1012: react(true, 'quick'),
  1013: react(true, 'long'),
  4000: react(false, 'normal', { report: true }),
  4001: react(true, 'normal', { refreshToken: true }),
  4003: react(false, 'normal', { report: true }),
  4008: react(true, 'long', { report: true }),
};

// The words live apart from the reactions so a client bundle (which needs only `closeReaction`)
// leaves them out: every export below is pure and tree-shaken when unused.
const MEANINGS: Readonly<Record<number, string>> = {
  1000: 'normal close',
  1001: 'server going away',
  1002: 'WebSocket protocol error',
  1006: 'connection lost without a close frame',
  1007: 'text frame not valid UTF-8',
  1008: 'policy violation',
  1009: 'frame larger than maxPayload',
  1011: 'internal server error',
  1012: 'server restarting (draining)',
  1013: 'server overloaded, try later',
  4000: 'repeated malformed frames',
  4001: 'token expired or unauthorized',
  4003: 'forbidden',
  4008: 'rate limited',
  4009: 'slow consumer: send buffer over limit',
  4010: 'heartbeat timeout',
};

/** The client's reaction to `code`, without the words (what `@tether/client` uses). */
export function closeReaction(code: number): CloseReaction {
  return REACTIONS[code] ?? DEFAULT_REACTION;
}

const meant = (r: CloseReaction, meaning: string): ClosePolicy => ({ ...r, meaning });

/** The client's reaction to each close code. Codes not listed follow {@link DEFAULT_CLOSE_POLICY}. */
export const CLOSE_POLICY: Readonly<Record<number, ClosePolicy>> = /* @__PURE__ */ (() => {
  const table: Record<number, ClosePolicy> = {};
  for (const code in MEANINGS) table[code] = meant(closeReaction(Number(code)), MEANINGS[code] as string);
  return table;
})();

/** Any close code not in the table: a network or server problem worth retrying. */
export const DEFAULT_CLOSE_POLICY: ClosePolicy = /* @__PURE__ */ meant(DEFAULT_REACTION, 'unexpected close');

export function closePolicy(code: number): ClosePolicy {
  return CLOSE_POLICY[code] ?? DEFAULT_CLOSE_POLICY;
}
