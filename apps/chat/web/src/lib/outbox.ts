/**
 * Room messages on their way: shown at once as `pending`, kept in localStorage (so a reload
 * resends them), sent one at a time in the order typed with `room.send`, each with a key made
 * when it was typed — the server stores and publishes a key once, however often it arrives.
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
  const save = (): void => localStorage.setItem(storageKey, JSON.stringify(items.value));
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
          items.value = items.value.filter((m) => m.key !== next.key);
          save();
        } catch (err) {
          const e = err as { name?: string; message?: string };
          // A lost connection or a slow answer: try again, same key, once the connection is back.
          if (e.name !== 'ServerError' || (err as { code?: string }).code === 'unavailable') {
            failed = true;
            return;
          }
          next.error = e.message ?? 'refused';
          items.value = [...items.value];
          save();
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
  void pump();

  return {
    items,
    send(room: string, text: string): void {
      items.value = [...items.value, { key: newKey(), room, user, text, ts: Date.now() }];
      save();
      void pump();
    },
    discard(key: string): void {
      items.value = items.value.filter((m) => m.key !== key);
      save();
    },
    dispose: offOpen,
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
