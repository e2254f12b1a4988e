/**
 * What a person should know about the connection: a countdown to the next attempt, offline,
 * "Back online" for a moment after a recovery, and the round-trip time while connected.
 */
import type { ClientState, TetherClient } from '@tether/client';
import { computed, onScopeDispose, type Ref, ref } from 'vue';

export type Banner =
  | { kind: 'none' }
  | { kind: 'connecting' }
  | { kind: 'offline' }
  | { kind: 'waiting'; seconds: number }
  | { kind: 'trying' }
  | { kind: 'closed' }
  | { kind: 'back' };

export function useConnection(client: TetherClient, state: Readonly<Ref<ClientState>>) {
  const now = ref(Date.now());
  const retryAt = ref(0);
  const online = ref(navigator.onLine);
  const backUntil = ref(0);
  const rtt = ref<number | undefined>(undefined);
  let everOpen = false;
  let dropped = false;

  const offs = [
    client.on('reconnecting', (e) => {
      retryAt.value = Date.now() + e.delay;
      dropped = true;
    }),
    client.on('open', () => {
      if (everOpen && dropped) backUntil.value = Date.now() + 2500;
      everOpen = true;
      dropped = false;
      void measure();
    }),
  ];
  const onOnline = (): void => {
    online.value = true;
    if (client.state === 'open') backUntil.value = Date.now() + 2500;
  };
  const onOffline = (): void => {
    online.value = false;
  };
  window.addEventListener('online', onOnline);
  window.addEventListener('offline', onOffline);

  // The client keeps `stats.rtt` current from the server's heartbeats; a tab sharing another
  // tab's connection measures its own, so ask once on open and then now and then.
  async function measure(): Promise<void> {
    if (client.state !== 'open') return;
    try {
      rtt.value = await client.ping();
    } catch {
      // Not connected any more: the banner says so.
    }
  }
  const tick = setInterval(() => {
    now.value = Date.now();
    if (client.state !== 'open') rtt.value = undefined;
    else rtt.value = client.stats.rtt ?? rtt.value;
  }, 250);
  const pinger = setInterval(() => void measure(), 15_000);

  onScopeDispose(() => {
    for (const off of offs) off();
    window.removeEventListener('online', onOnline);
    window.removeEventListener('offline', onOffline);
    clearInterval(tick);
    clearInterval(pinger);
  });

  const banner = computed<Banner>(() => {
    const s = state.value;
    // The browser knows first: an open socket does not outlive the network for long.
    if (!online.value) return { kind: 'offline' };
    if (s === 'open') return now.value < backUntil.value ? { kind: 'back' } : { kind: 'none' };
    if (s === 'closed') return { kind: 'closed' };
    if (s === 'reconnecting') {
      const left = Math.ceil((retryAt.value - now.value) / 1000);
      return left > 0 ? { kind: 'waiting', seconds: left } : { kind: 'trying' };
    }
    return everOpen ? { kind: 'trying' } : { kind: 'connecting' };
  });

  // Reconnects now instead of waiting for the countdown.
  return { banner, rtt, retryNow: () => client.reconnect() };
}

export type Connection = ReturnType<typeof useConnection>;
