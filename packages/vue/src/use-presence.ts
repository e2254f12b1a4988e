/**
 * `usePresence`: who is in a channel now, kept current from `presence_diff` frames on the shared
 * (reference-counted) subscription.
 * @module
 */

import type { PresenceClient } from '@tether/client';
import { type MaybeRefOrGetter, type ShallowRef, shallowRef } from 'vue';
import { acquireChannel, applyPresence } from './context.js';
import { followChannel } from './follow-channel.js';
import { useTetherContext } from './plugin.js';

export interface UsePresenceReturn {
  /** Clients in the channel (one entry per connection). */
  clients: Readonly<ShallowRef<readonly PresenceClient[]>>;
  /**
   * How many clients are in the channel. On channels above the server's `presenceListLimit`
   * the server sends counts only: `count` stays current, `clients` is the last loaded list.
   */
  count: Readonly<ShallowRef<number>>;
  /** Reloads the list from the server. */
  refresh: () => Promise<void>;
}

/**
 * Tracks presence in a channel (its namespace must have presence on). Shares the subscription with
 * any `useChannel` on the same name; reloads the full list after every (re)subscribe, so a
 * reconnect never leaves stale entries.
 * @example
 * const { clients } = usePresence('room:lobby')
 */
export function usePresence(name: MaybeRefOrGetter<string | null | undefined>): UsePresenceReturn {
  const ctx = useTetherContext('usePresence()');
  const clients = shallowRef<readonly PresenceClient[]>([]);
  const count = shallowRef(0);
  // Bumped per load and per channel change: an older answer must not overwrite a newer one.
  let loadSeq = 0;

  const load = async (channel: string | undefined): Promise<void> => {
    const entry = channel ? ctx.channels.get(channel) : undefined;
    if (!entry) return;
    const my = ++loadSeq;
    try {
      const list = await entry.sub.presence();
      if (my === loadSeq) {
        clients.value = list;
        count.value = list.length;
      }
    } catch {
      // Offline or refused: the next (re)subscribe loads it again.
    }
  };

  const open = (next: string): (() => void) => {
    const acquired = acquireChannel(ctx, next, {
      // The server answers a presence request after the frames it sent before it, so a
      // list that arrives later is at least as fresh as these changes.
      onJoin: (ev) => {
        clients.value = applyPresence(clients.value, ev, true);
      },
      onLeave: (ev) => {
        clients.value = applyPresence(clients.value, ev, false);
      },
      // A diff with lists: the count is the list's; a count-only diff moves the count alone.
      onPresence: (diff) => {
        count.value = diff.joins ? clients.value.length : Math.max(0, count.value + diff.joined - diff.left);
      },
      onSubscribed: () => void refresh(),
    });
    // Joined an entry that is already subscribed: its `subscribed` event is in the past.
    if (acquired.entry.status.value === 'subscribed') void load(next);
    return acquired.release;
  };

  const current = followChannel(ctx, name, open, () => {
    loadSeq++;
    clients.value = [];
    count.value = 0;
  });
  const refresh = (): Promise<void> => load(current());
  return { clients, count, refresh };
}
