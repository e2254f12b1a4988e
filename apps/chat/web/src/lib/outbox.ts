/**
 * Room messages on their way: shown at once as `pending`, kept in localStorage (so a reload
 * resends them), sent one at a time in the order typed with `room.send`, each with a key made
 * when it was typed — the server stores and publishes a key once, however often it arrives.
 * localStorage is the one list for all tabs of a user: every change reads, changes and writes it,
 * and a change in another tab is picked up (two tabs sending one message is harmless: one key).
 */
import type { TetherClient } from '@tether/client';
import { ref } from 'vue';

export interface Outgoing {
  key: string;
  room: string;
  user: string;
  text: string;
  ts: number;
  /** Set when the server refused it for good (not for a lost connection). */
  error?: string;
}

const newKey = (): string =>
  globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;

export function createOutbox(client: TetherClient, user: string) {
  const storageKey = `tether-chat-outbox:${user}`;
  const load = (): Outgoing[] => {
    try {
      const v = JSON.parse(localStorage.getItem(storageKey) ?? '[]') as unknown;
      return Array.isArray(v) ? (v as Outgoing[]) : [];
    } catch {
      return [];
    }
  };
  const items = ref<Outgoing[]>(load());
  const update = (change: (list: Outgoing[]) => Outgoing[]): void => {
    const next = change(load());
    localStorage.setItem(storageKey, JSON.stringify(next));
    items.value = next;
  };
  let busy = false;

  async function pump(): Promise<void> {
    if (busy) return;
    busy = true;
    let failed = false;
    try {
      for (;;) {
        const next = items.value.find((m) => !m.error);
        if (!next || client.state !== 'open') return;
        try {
          await client.rpc('room.send', { room: next.room, key: next.key, text: next.text }, { timeout: 10_000 });
          update((list) => list.filter((m) => m.key !== next.key));
        } catch (err) {
          const e = err as { name?: string; message?: string };
          // A lost connection or a slow answer: try again, same key, once the connection is back.
          if (e.name !== 'ServerError' || (err as { code?: string }).code === 'unavailable') {
            failed = true;
            return;
          }
          const error = e.message ?? 'refused';
          update((list) => list.map((m) => (m.key === next.key ? { ...m, error } : m)));
        }
      }
    } finally {
      busy = false;
      // A failure with the connection still open (a timeout): try again shortly. Otherwise something
      // may have been added while the last send was in flight.
      if (failed) setTimeout(() => void pump(), 1500);
      else if (client.state === 'open' && items.value.some((m) => !m.error)) queueMicrotask(() => void pump());
    }
  }

  const offOpen = client.on('open', () => void pump());
  const onStorage = (e: StorageEvent): void => {
    if (e.key !== storageKey) return;
    items.value = load();
    void pump();
  };
  window.addEventListener('storage', onStorage);
  void pump();

  return {
    items,
    send(room: string, text: string): void {
      update((list) => [...list, { key: newKey(), room, user, text, ts: Date.now() }]);
      void pump();
    },
    discard(key: string): void {
      update((list) => list.filter((m) => m.key !== key));
    },
    dispose(): void {
      offOpen();
      window.removeEventListener('storage', onStorage);
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
