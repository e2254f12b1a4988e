/**
 * The client's channel registry: the one `Subscription` per channel, its (re)subscribe request,
 * and the routing of channel frames to it.
 * @module
 */
import { channelNameError, type ServerFrame } from '@tether/protocol';
import type { Requests } from './requests.js';
import { type SubscribeOptions, Subscription } from './subscription.js';

/** @internal */
export type Subscriptions = ReturnType<typeof createSubscriptions>;

/**
 * @internal
 * @param open The connection is open (an `unsubscribe` is worth sending).
 * @param tether It is open and speaks Tether (a new subscription subscribes now, not on the next welcome).
 */
export function createSubscriptions(requests: Requests, open: () => boolean, tether: () => boolean) {
  // Stored without their data type: the registry hands them frames, callers see their own `D`.
  const subs = new Map<string, Subscription>();

  // Within `requestTimeout`. A `true` reply means: subscribe again, now with `since` (the `history`
  // option's second step).
  const subscribeNow = (sub: Subscription): void =>
    requests.command(sub.frame(), undefined, 'subscribe', (ok, v) => sub.applyReply(ok, v) && subscribeNow(sub));

  const host = {
    open,
    remove: (sub: { readonly channel: string }) => subs.get(sub.channel) === sub && subs.delete(sub.channel),
    request: requests.request,
  };

  return {
    add<D>(channel: string, opts: SubscribeOptions<D>): Subscription<D> {
      const why = channelNameError(channel);
      if (why) throw new TypeError(`tether: ${why}`);
      if (subs.has(channel))
        throw new TypeError(`tether: already subscribed to "${channel}"; reuse that Subscription or unsubscribe() it`);
      const sub = new Subscription<D>(host, channel, opts);
      subs.set(channel, sub as unknown as Subscription);
      // Open already: subscribe now; otherwise the next `welcome` does.
      if (tether()) subscribeNow(sub as unknown as Subscription);
      return sub;
    },

    /** After `welcome`: every subscription subscribes again (with `since`). */
    resubscribe(): void {
      for (const sub of subs.values()) subscribeNow(sub);
    },

    /** Hands a channel frame to its subscription. */
    route(f: ServerFrame): void {
      if (f.type === 'message') subs.get(f.channel)?.applyMessage(f);
      else if (f.type === 'presence_diff') subs.get(f.channel)?.applyPresence(f);
      else if (f.type === 'unsubscribed') subs.get(f.channel)?.ended(f.reason);
    },

    /** The connection dropped (`err` undefined), or the client stopped for good. */
    dropped(err?: unknown): void {
      for (const sub of subs.values()) {
        if (err) sub.closed(err);
        else sub.reset();
      }
    },
  };
}
