/**
 * The SharedWorker that holds the connection of every tab of one origin and user (its name is
 * `tether:<key>`, so each user gets a worker of their own). Each tab opens a port and introduces
 * itself with `init`; the first one's options make the hub. The worker learns that a tab is gone
 * when the Web Lock the tab holds for its whole life becomes free.
 * @module
 */
import type { ClientOptions } from '../types.js';
import { createHub, type Hub } from './hub.js';
import type { HubMessage, TabMessage } from './messages.js';

/** @internal A tab's first message on its port. */
export interface Init {
  t: 'init';
  id: string;
  /** The tab's structured-clonable options (no token getter: the hub asks a tab for tokens). */
  o: ClientOptions;
  /** The lock the tab holds while it lives. */
  lock: string;
}

const scope = globalThis as unknown as {
  name: string;
  onconnect: ((e: MessageEvent) => void) | null;
  navigator: { locks?: LockManager };
};
// Held while the worker lives: a tab that waits for it learns that the worker is gone. Each tab is
// told (`up`) once it is held, so that its wait cannot come first.
const held = new Promise<void>((up) => {
  void scope.navigator.locks?.request(`${scope.name}:hub`, () => {
    up();
    return new Promise<void>(() => {});
  });
});
const ports = new Map<string, MessagePort>();
let hub: Hub | undefined;
const link = {
  send: (tab: string, m: HubMessage) => ports.get(tab)?.postMessage(m),
  sendMany(tabs: Iterable<string>, m: HubMessage): void {
    for (const t of tabs) ports.get(t)?.postMessage(m);
  },
};

scope.onconnect = (e) => {
  const port = e.ports[0];
  if (!port) return;
  let id: string | undefined;
  port.onmessage = (ev: MessageEvent<Init | TabMessage>) => {
    const m = ev.data;
    if (m.t === 'init') {
      if (id) return;
      id = m.id;
      ports.set(m.id, port);
      hub ??= createHub(m.o, link, true);
      const gone = (): void => {
        ports.delete(m.id);
        hub?.leave(m.id);
      };
      void scope.navigator.locks?.request(m.lock, gone);
      void held.then(() => port.postMessage({ t: 'up' }));
      return;
    }
    if (id) hub?.receive(id, m);
  };
  port.start();
};
