/**
 * One page of a channel's presence, for the `presence` command and `GET /api/presence`: the
 * requested limit lowered to `maxPresencePage` (that maximum when none is given, so a client
 * that knows no pages gets a bounded first page), the cursor turned back into the store's
 * `after`, and a `next` cursor while more entries follow.
 * @module
 */
import type { PresenceStore } from '@tether/broker';
import type { PresenceClient, PresenceResult } from '@tether/protocol';
import { RpcError } from './rpc-error.js';

/** What a request may ask for. */
export interface PresencePageQuery {
  limit?: number | undefined;
  cursor?: string | undefined;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The cursor of the page after the entry `connectionId`: the id in base64url, opaque to clients. */
export const presenceCursor = (connectionId: string): string => Buffer.from(connectionId).toString('base64url');

/** The store's `after` of a cursor; anything this server would not have handed out is refused. */
function afterOf(cursor: string): string {
  const id = BASE64URL.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  // Only the canonical form round-trips: this also refuses bytes that were not UTF-8.
  if (id === '' || presenceCursor(id) !== cursor)
    throw new RpcError('bad_request', 'invalid presence "cursor": pass the "next" of the previous page as received');
  return id;
}

/**
 * Reads one page: asks the store for one entry more than the page holds, so that `next` is
 * there exactly when more entries follow (no empty last page to fetch).
 */
export async function presencePage(
  store: PresenceStore,
  channel: string,
  query: PresencePageQuery,
  max: number,
): Promise<PresenceResult> {
  const limit = Math.min(query.limit ?? max, max);
  const after = query.cursor === undefined ? undefined : afterOf(query.cursor);
  const clients = await store.list(channel, after === undefined ? { limit: limit + 1 } : { after, limit: limit + 1 });
  if (clients.length <= limit) return { clients };
  const page = clients.slice(0, limit);
  return { clients: page, next: presenceCursor((page[limit - 1] as PresenceClient).connectionId) };
}
