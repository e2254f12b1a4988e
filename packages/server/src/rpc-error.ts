/**
 * Typed errors for RPC handlers.
 * @module
 */
import { type ErrorCode, isErrorCode } from '@tether/protocol';

/**
 * Throw from an RPC handler (or an `authorize` hook) to answer with a specific error code; its
 * message goes to the client as is. Any other error becomes `internal` with a generic message.
 * @example
 * tether.rpc('doc.get', async ({ id }) => {
 *   const doc = await db.find(id);
 *   if (!doc) throw new RpcError('not_found', `no document ${id}`);
 *   return doc;
 * });
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    if (!isErrorCode(code)) throw new TypeError(`RpcError code must be one of the protocol error codes, got ${code}`);
  }
}
