/**
 * `@tether/client/share`: one connection for all the tabs of one origin and one user.
 * `createClient({ …, share: 'tabs' })` from this entry returns a client with the API and events
 * of `@tether/client`'s, whose WebSocket lives in a `SharedWorker` — or, where there is none, in
 * a leader tab elected with Web Locks that relays over a `BroadcastChannel`. Without those APIs
 * (Node, old browsers), or without `share: 'tabs'`, it is `@tether/client`'s `createClient`.
 * @module
 */
import { createClient as createOwnClient } from '../client.js';
import type { ClientOptions, TetherClient } from '../types.js';
import { createHub } from './hub.js';
import { elect, hold } from './leader.js';
import type { TabMessage } from './messages.js';
import { createTab, type Tab } from './tab.js';
import type { Init } from './worker.js';

export interface ShareOptions {
  /** `'tabs'`: the tabs of this origin and user share one connection. @default undefined (a connection per client) */
  share?: 'tabs';
  /**
   * Who the tabs are, when the token does not say: tabs share only with tabs of the same key and
   * URL. @default the token's `sub` claim (a JWT), else a SHA-256 of the token
   */
  shareKey?: string;
  /**
   * The SharedWorker script, for bundlers that do not follow `new URL('./worker.js', import.meta.url)`;
   * `false` uses the leader tab even where SharedWorker exists. @default the bundled `worker.js`
   */
  worker?: string | URL | false;
}

export type SharedClientOptions = ClientOptions & ShareOptions;

const g = globalThis as unknown as {
  document?: unknown;
  navigator?: { locks?: LockManager };
  BroadcastChannel?: unknown;
  SharedWorker?: unknown;
};

/** True in a page that has Web Locks and BroadcastChannel, the least sharing needs. */
export const canShare = (): boolean =>
  typeof g.document === 'object' && !!g.navigator?.locks && typeof g.BroadcastChannel === 'function';

/**
 * `@tether/client`'s `createClient`, plus `share: 'tabs'`. Nothing happens until `connect()`,
 * which first works out who the user is (the token), then finds or becomes the hub.
 * @example
 * import { createClient } from '@tether/client/share'
 * const client = createClient({ url: '/ws', token: getToken, share: 'tabs' })
 */
export function createClient(options: SharedClientOptions): TetherClient {
  const { share, shareKey, worker, ...own } = options;
  if (share !== 'tabs' || !canShare()) return createOwnClient(own);
  const tab = createTab(own);
  const { connect, close } = tab.client;
  /** The group this tab joined on `connect()` (resolves with how to leave it); none after `close()`. */
  let joined: Promise<() => void> | undefined;
  tab.client.connect = () => {
    if (!joined) {
      const mine: Promise<() => void> = join(tab, own, shareKey, worker, () => joined === mine);
      joined = mine;
    }
    return connect();
  };
  // The next connect() joins again: the token may belong to someone else by then (log out, log in).
  tab.client.close = () => {
    close();
    void joined?.then((leave) => leave());
    joined = undefined;
  };
  return tab.client;
}

export { createClient as createSharedClient };

async function join(
  tab: Tab,
  options: ClientOptions,
  shareKey: string | undefined,
  worker: ShareOptions['worker'],
  current: () => boolean,
): Promise<() => void> {
  const id = randomId();
  let key: string | undefined;
  // The token says who the user is; while its getter fails (a login not done yet), ask again.
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      key = await keyOf(options, shareKey);
      break;
    } catch {
      await new Promise((wake) => setTimeout(wake, delay));
      if (!current()) return () => {};
    }
  }
  if (!current()) return () => {};
  if (key === undefined) {
    // No way to tell users apart (no SubtleCrypto outside secure contexts): a connection of its own.
    const hub = createHub(options, { send: (_, m) => rx(m), sendMany: (_, m) => rx(m) }, false);
    const mine = { post: (m: TabMessage) => queueMicrotask(() => hub.receive(id, m)) };
    const rx = tab.attach(mine);
    return () => {
      tab.detach(mine);
      hub.close();
    };
  }
  const name = `tether:${key}`;
  const locks = g.navigator?.locks as LockManager;
  const lead = () => elect(tab, id, name, options, { locks, channel: (n) => new BroadcastChannel(n) });
  const { token: _token, ...data } = options;
  if (worker === false || typeof g.SharedWorker !== 'function' || !clonable(data)) return lead();
  let w: SharedWorker;
  try {
    w = worker
      ? new SharedWorker(worker, { type: 'module', name })
      : new SharedWorker(new URL('./worker.js', import.meta.url), { type: 'module', name });
  } catch {
    return lead();
  }
  // Listened for at once: a script that does not load fails while the tab still waits for its lock.
  let failed = false;
  let onError = (): void => {
    failed = true;
  };
  w.addEventListener('error', () => onError());
  // Held for the tab's life, before the worker hears of the tab: the worker waits for it to be free.
  const lock = `${name}:tab:${id}`;
  const release = await hold(locks, lock);
  if (failed) {
    release();
    return lead();
  }
  const port = w.port;
  const mine = { post: (m: TabMessage) => port.postMessage(m) };
  let left = false;
  let leave = (): void => {
    left = true;
    tab.detach(mine);
    port.close();
    release();
  };
  // The script did not load (a bundler that left it out, a CSP), or the worker died: the tabs elect
  // a leader instead.
  const instead = (): void => {
    if (left) return;
    leave();
    leave = lead();
  };
  onError = instead;
  port.postMessage({ t: 'init', id, o: data, lock } satisfies Init);
  const rx = tab.attach(mine);
  port.onmessage = (e) => {
    // `up`: the worker holds `<name>:hub` (for its life), so the lock comes free only when it is gone.
    if (e.data?.t !== 'up') rx(e.data);
    else if (!left) void locks.request(`${name}:hub`, instead);
  };
  return () => leave();
}

function clonable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

const randomId = (): string => globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;

/** `<url>|<who>`: tabs share only with tabs of the same server and the same user. */
async function keyOf(options: ClientOptions, shareKey: string | undefined): Promise<string | undefined> {
  const url = typeof options.url === 'function' ? options.url() : String(options.url);
  if (shareKey) return `${url}|k:${shareKey}`;
  const t = options.token;
  const token = typeof t === 'function' ? await t() : t;
  if (!token) return `${url}|anonymous`;
  const sub = subjectOf(token);
  if (sub) return `${url}|sub:${sub}`;
  if (!globalThis.crypto?.subtle) return undefined;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return `${url}|sha256:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The `sub` claim of a JWT (not verified: it only decides which tabs share, the server checks the token). */
function subjectOf(token: string): string | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const claims = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
