/**
 * The one error a broker or presence store throws on purpose.
 * @module
 */

/** The `code` of `BrokerUnavailableError`, the same string as the protocol's `unavailable` error. */
export const BROKER_UNAVAILABLE = 'unavailable';

/** Thrown (as a rejection) by broker and presence calls while the backing store is unreachable. */
export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
  readonly code = BROKER_UNAVAILABLE;
}

/**
 * True for a `BrokerUnavailableError` from any copy of this package. Recognised by its `code`,
 * not `instanceof`: a broker package installed with its own copy of `@tether/broker` throws a
 * class the server's copy does not know.
 */
export function isBrokerUnavailable(err: unknown): boolean {
  return (
    err instanceof BrokerUnavailableError ||
    (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === BROKER_UNAVAILABLE)
  );
}
