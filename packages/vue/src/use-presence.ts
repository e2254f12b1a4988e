/**
 * `usePresence`: who is in a channel now, kept current from `join`/`leave` frames on the shared
 * (reference-counted) subscription.
 * @module
 */
import {
  getCurrentScope,
  type MaybeRefOrGetter,
  onScopeDispose,
  type ShallowRef,
  shallowRef,
  toValue,
  watch,
} from 'vue';
import { acquireChannel, applyPresence, type PresenceClient } from './context.js';
import { useTetherContext } from './plugin.js';

export interface UsePresenceReturn {
  /** Clients in the channel (one entry per connection). */
  clients: Readonly<ShallowRef<readonly PresenceClient[]>>;
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
  let current: string | undefined;
  let release: (() => void) | undefined;
  // Bumped per load and per channel change: an older answer must not overwrite a newer one.
  let loadSeq = 0;

  const refresh = async (): Promise<void> => {
    const entry = current ? ctx.channels.get(current) : undefined;
    if (!entry) return;
    const my = ++loadSeq;
    try {
      const list = await entry.sub.presence();
      if (my === loadSeq) clients.value = list;
    } catch {
      // Offline or refused: the next (re)subscribe loads it again.
    }
  };

  const stop = (): void => {
    release?.();
    release = current = undefined;
    loadSeq++;
    clients.value = [];
  };

  if (!ctx.ssr) {
    watch(
      () => toValue(name) || undefined,
      (next) => {
        if (next === current) return;
        stop();
        if (!next) return;
        const acquired = acquireChannel(ctx, next, {
          // The server answers a presence request after the frames it sent before it, so a
          // list that arrives later is at least as fresh as these changes.
          onJoin: (ev) => {
            clients.value = applyPresence(clients.value, ev, true);
          },
          onLeave: (ev) => {
            clients.value = applyPresence(clients.value, ev, false);
          },
          onSubscribed: () => void refresh(),
        });
        current = next;
        release = acquired.release;
        // Joined an entry that is already subscribed: its `subscribed` event is in the past.
        if (acquired.entry.status.value === 'subscribed') void refresh();
      },
      { immediate: true },
    );
    if (getCurrentScope()) onScopeDispose(stop);
  }
  return { clients, refresh };
}
