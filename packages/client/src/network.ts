/**
 * Browser hints about the network: `online`, `offline`, and the tab becoming visible again
 * (`visibilitychange`, `pageshow`). Listeners are attached while the client runs and removed when
 * it stops; runtimes without `addEventListener` (Node) simply get no hints.
 * @module
 */

type GlobalScope = {
  addEventListener?: (type: string, fn: () => void) => void;
  removeEventListener?: (type: string, fn: () => void) => void;
  document?: { visibilityState?: string };
};

/** @internal */
export type Network = ReturnType<typeof createNetwork>;

/**
 * @internal
 * @param online Back online: attempts may resume.
 * @param offline Offline: attempts wait for `online`.
 * @param visible Tab visible again or page restored: the connection may be dead.
 */
export function createNetwork(online: () => void, offline: () => void, visible: () => void) {
  const g = globalThis as GlobalScope;
  let isOffline = false;
  let listening = false;
  const onVisible = (): void => {
    if (g.document?.visibilityState !== 'hidden') visible();
  };
  const events: [string, () => void][] = [
    [
      'online',
      () => {
        isOffline = false;
        online();
      },
    ],
    [
      'offline',
      () => {
        isOffline = true;
        offline();
      },
    ],
    ['visibilitychange', onVisible],
    ['pageshow', onVisible],
  ];

  return {
    /** True after an `offline` hint, until `online` (or the next `connect()`). */
    get offline() {
      return isOffline;
    },
    /** Attaches (`on`) or removes the listeners; idempotent. Attaching starts from "online". */
    listen(on: boolean): void {
      if (on) isOffline = false;
      const fn = on ? g.addEventListener : g.removeEventListener;
      if (!fn || listening === on) return;
      listening = on;
      for (const [type, handler] of events) fn.call(globalThis, type, handler);
    },
  };
}
