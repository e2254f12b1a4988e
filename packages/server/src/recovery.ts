/**
 * The `subscribe` reply: what a subscriber missed, and whether history still covers all of it.
 * @module
 */

import type { HistoryResult } from '@tether/broker';
import type { StreamPosition, SubscribeResult } from '@tether/protocol';

/**
 * Builds the `subscribe` result from the channel's history read after `since.offset`.
 * Recovered means: same epoch, and the retained publications run without a hole from
 * `since.offset + 1` to the latest offset. Anything less is `recovered: false` with no
 * publications, so a client never mistakes a partial replay for a complete one.
 */
export function subscribeResult(since: StreamPosition | undefined, history: HistoryResult): SubscribeResult {
  const base = { offset: history.offset, epoch: history.epoch };
  if (!since) return { ...base, recovered: false, publications: [] };
  if (since.epoch !== history.epoch || since.offset > history.offset)
    return { ...base, recovered: false, publications: [] };
  const pubs = history.publications.filter((p) => p.offset > since.offset);
  let expected = since.offset + 1;
  for (const pub of pubs) {
    if (pub.offset !== expected) return { ...base, recovered: false, publications: [] };
    expected += 1;
  }
  if (expected !== history.offset + 1) return { ...base, recovered: false, publications: [] };
  return { ...base, recovered: true, publications: pubs };
}

/**
 * Whether a page of history read after `since` (exclusive) misses nothing: its publications run
 * without a hole from `since + 1` (a `limit` may cut the end, never the start), or there was
 * nothing after `since`. False when what followed `since` is no longer retained, or `since` is
 * past the channel's latest offset (another epoch): the `recovered` of `GET /api/history`.
 */
export function historyComplete(since: number, history: HistoryResult): boolean {
  if (since > history.offset) return false;
  let expected = since + 1;
  for (const pub of history.publications) {
    if (pub.offset !== expected) return false;
    expected += 1;
  }
  return history.publications.length > 0 || since === history.offset;
}
