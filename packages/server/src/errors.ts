/**
 * What a failed command or HTTP API call tells the caller: anything thrown becomes an
 * `ErrorBody` with a protocol error code — never a stack or an internal detail — and each code
 * has one HTTP status. Shared by the command handlers and the HTTP API.
 * @module
 */
import { isBrokerUnavailable } from '@tether/broker';
import type { ErrorBody, ErrorCode } from '@tether/protocol';
import type { Logger } from './logger.js';
import { RpcError } from './rpc-error.js';

/** The HTTP status of each error code (HTTP API answers, refused upgrades). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

/** A refusal of a channel action: the namespace rules, the token's claim or the `authorize` hook said no. */
export const forbidden = (message: string): RpcError => new RpcError('forbidden', message);

/**
 * Maps anything thrown while handling `what` to what the caller may see. `RpcError`s go through
 * as they are, an unreachable broker becomes `unavailable`, and everything else is logged and
 * answered `internal`.
 */
export function toErrorBody(err: unknown, logger: Logger, what: string): ErrorBody {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  if (isBrokerUnavailable(err)) return { code: 'unavailable', message: 'broker unavailable, try again' };
  logger.error({ err }, `${what} failed`);
  return { code: 'internal', message: 'internal error' };
}
