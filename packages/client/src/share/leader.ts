/**
 * The leader path, for browsers without `SharedWorker` (Safari on iOS, Chrome on Android) or
 * where the worker cannot load: the tabs elect a leader with Web Locks, the leader runs the hub,
 * and the others reach it over a `BroadcastChannel`.
 *
 * - Every tab queues for the lock `<name>`; the browser grants it to one, and to the next in line
 *   the moment that tab closes or crashes.
 * - A frozen or hung leader still holds the lock: followers probe it every `probe` ms, and when
 *   nothing was heard from it for `dead` ms, one of them (the holder of `<name>:steal`) steals
 *   the lock. A leader that thaws finds its lock stolen and steps down.
 * - Every tab also holds `<name>:tab:<id>` for its whole life, so the leader learns that a
 *   follower is gone when that lock becomes free.
 * @module
 */
import type { ClientOptions } from '../types.js';
import { createHub, type Hub } from './hub.js';
import type { HubMessage, TabMessage } from './messages.js';
import type { Tab, TabLink } from './tab.js';

/** @internal What crosses the BroadcastChannel. */
export type Wire =
  | { k: 'lead'; from: string }
  | { k: 'probe' }
  | { k: 'up'; from: string; m: TabMessage }
  | { k: 'down'; from: string; to: string[]; m: HubMessage };

/** @internal The browser APIs the election uses (the unit test passes fakes). */
export interface ElectionEnv {
  locks: LockManager;
  channel: (name: string) => BroadcastChannel;
  /** Probe interval; a leader unheard for `dead` ms is replaced. @default 500 / 1500 */
  probe?: number;
  dead?: number;
}

const noop = (): void => {};

/** @internal Resolves once the lock `name` is held, with the function that releases it. */
export function hold(locks: LockManager, name: string): Promise<() => void> {
  return new Promise((held) => {
    void locks.request(name, () => new Promise<void>((release) => held(release)));
  });
}

/** @internal Joins the election for `name`; returns a function that leaves it. */
export function elect(tab: Tab, id: string, name: string, options: ClientOptions, env: ElectionEnv): () => void {
  const { locks, probe = 500, dead = 1500 } = env;
  const bc = env.channel(name);
  let hub: Hub | undefined;
  let leader: string | undefined;
  let heard = Date.now();
  let release = noop;
  let queued: AbortController | undefined;
  let stopped = false;
  let frozen = false;
  let alive = noop;
  const watched = new Set<string>();
  /** This tab's way to the hub (local when leading), and where the hub's messages for it go. */
  let mine: TabLink | undefined;
  let rx: (m: HubMessage) => void = noop;
  const attach = (next: TabLink): void => {
    tab.detach(mine);
    mine = next;
    rx = tab.attach(next);
  };
  const wire = (w: Wire): void => bc.postMessage(w);

  const link = {
    send: (to: string, m: HubMessage) => link.sendMany([to], m),
    sendMany(tabs: Iterable<string>, m: HubMessage): void {
      const others: string[] = [];
      for (const t of tabs)
        if (t === id) queueMicrotask(() => rx(m));
        else others.push(t);
      if (others.length > 0) wire({ k: 'down', from: id, to: others, m });
    },
  };

  function lead(): Promise<void> {
    if (stopped) return Promise.resolve();
    const own = createHub(options, link, false);
    hub = own;
    watched.clear();
    leader = id;
    attach({ post: (m) => queueMicrotask(() => own.receive(id, m)) });
    wire({ k: 'lead', from: id });
    return new Promise((resolve) => {
      release = resolve;
    });
  }

  /** No longer the leader (stolen, frozen, or leaving): the hub stops and the tab waits for the next. */
  function stepDown(): void {
    if (leader !== id) return;
    release();
    hub?.close();
    hub = undefined;
    leader = undefined;
    heard = Date.now();
    tab.detach(mine);
    if (!stopped && !frozen) candidate();
  }

  /** Queues for the lock; granted when every tab before this one has gone. */
  function candidate(): void {
    const ctl = new AbortController();
    queued = ctl;
    locks.request(name, { signal: ctl.signal }, lead).then(noop, () => {
      // Aborted while queued (this tab is stealing or leaving), or stolen while leading.
      if (queued === ctl) stepDown();
    });
  }

  function steal(): void {
    void locks.request(`${name}:steal`, { ifAvailable: true }, async (guard) => {
      if (!guard || stopped || leader === id || Date.now() - heard < dead) return;
      const old = queued;
      const ctl = new AbortController();
      queued = ctl;
      old?.abort();
      await new Promise<void>((granted) => {
        locks
          .request(name, { steal: true }, () => {
            granted();
            return lead();
          })
          .then(noop, () => {
            if (queued === ctl) stepDown();
          });
      });
    });
  }

  function follow(from: string): void {
    leader = from;
    attach({ post: (m) => wire({ k: 'up', from: id, m }) });
  }

  bc.onmessage = (e: MessageEvent<Wire>) => {
    const w = e.data;
    if (stopped) return;
    if (w.k === 'probe') {
      if (leader === id) wire({ k: 'lead', from: id });
    } else if (w.k === 'up') {
      if (leader !== id || !hub) return;
      if (w.m.t === 'hi' && !watched.has(w.from)) {
        watched.add(w.from);
        const own = hub;
        void locks.request(`${name}:tab:${w.from}`, () => own.leave(w.from));
      }
      hub.receive(w.from, w.m);
    } else if (leader !== id) {
      if (w.from !== leader) {
        if (w.k !== 'lead') return;
        follow(w.from);
      }
      heard = Date.now();
      if (w.k === 'down' && w.to.includes(id)) rx(w.m);
    }
  };

  const timer = setInterval(() => {
    if (leader === id) return;
    const quiet = Date.now() - heard;
    if (frozen) return;
    if (quiet >= dead) steal();
    else if (quiet >= probe) wire({ k: 'probe' });
  }, probe);
  // A page the browser freezes (Page Lifecycle) hands the lock on at once instead of being stolen from.
  const freeze = (): void => {
    frozen = true;
    const q = queued;
    queued = undefined;
    if (leader === id) stepDown();
    else q?.abort();
  };
  const resume = (): void => {
    frozen = false;
    heard = Date.now();
    if (!queued) candidate();
  };
  // A page kept in the back/forward cache may come back: only a page that is going says goodbye.
  const pagehide = (e: Event): void => {
    if (!(e as PageTransitionEvent).persisted) tab.bye();
  };
  const events = [
    ['freeze', freeze],
    ['resume', resume],
    ['pagehide', pagehide],
  ] as const;
  for (const [e, f] of events) globalThis.addEventListener?.(e, f);

  // The leader watches this lock to learn that the tab is gone: it must be held before anyone hears of the tab.
  void hold(locks, `${name}:tab:${id}`).then((release) => {
    alive = release;
    if (stopped) return release();
    candidate();
    wire({ k: 'probe' });
  });

  return () => {
    stopped = true;
    clearInterval(timer);
    for (const [e, f] of events) globalThis.removeEventListener?.(e, f);
    queued?.abort();
    stepDown();
    tab.detach(mine);
    alive();
    bc.close();
  };
}
