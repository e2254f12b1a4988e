/**
 * Who may do what with a channel: the namespace policy, the token's `channels` claim, then the
 * application's `authorize` hook (which can only narrow). Pure functions of their arguments.
 * @module
 */

import type { ClientContext } from './client-context.js';
import { forbidden } from './errors.js';
import { type ChannelPolicy, matchChannel } from './namespaces.js';
import type { AuthorizeHook, ChannelAction } from './options.js';

/** The part of a connection access depends on. */
export interface Requester {
  readonly user: string;
  /** The token's `channels` claim; absent = no restriction beyond the policy. */
  readonly channels: readonly string[] | undefined;
}

/** Does the token's `channels` claim (or its absence) let `who` use `channel`? */
export function claimAllows(policy: ChannelPolicy, who: Requester, channel: string): boolean {
  if (policy.privateTo !== undefined) return policy.privateTo === who.user;
  if (!who.channels) return policy.subscribe !== 'claim';
  return who.channels.some((pattern) => matchChannel(pattern, channel));
}

/**
 * Why the namespace rules and the claim refuse `action`, or `undefined` when they allow it.
 * `subscribed`: whether `who` is subscribed to `channel` (for `publish: 'subscribers'`).
 */
export function refusal(
  policy: ChannelPolicy,
  who: Requester,
  channel: string,
  action: ChannelAction,
  subscribed: boolean,
): string | undefined {
  if (policy.privateTo !== undefined) {
    if (action === 'publish') return `only the server publishes to "${channel}"`;
    if (policy.privateTo !== who.user) return `"${channel}" is another user's private channel`;
    return undefined;
  }
  if (action === 'publish') {
    if (policy.publish === 'server' || policy.publish === 'nobody') return `clients may not publish to "${channel}"`;
    if (policy.publish === 'subscribers' && !subscribed) return `subscribe to "${channel}" before publishing to it`;
  } else if (policy.subscribe === 'nobody') {
    return `clients may not subscribe to "${channel}"`;
  }
  if (!claimAllows(policy, who, channel)) return `the token does not grant "${channel}"`;
  return undefined;
}

/** The namespace rules, the claim, then the `authorize` hook. Rejects with `forbidden`. */
export async function checkAccess(
  policy: ChannelPolicy,
  ctx: ClientContext,
  channel: string,
  action: ChannelAction,
  subscribed: boolean,
  authorize: AuthorizeHook | undefined,
): Promise<void> {
  const why = refusal(policy, ctx, channel, action, subscribed);
  if (why !== undefined) throw forbidden(why);
  if (authorize && (await authorize(ctx, channel, action)) === false)
    throw forbidden(`not allowed to ${action} "${channel}"`);
}
