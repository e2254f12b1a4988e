/**
 * The page of test/share-browser.test.ts: one shared client per tab, driven by the test through
 * `window.tether` (start with a token, then read what arrived, publish, call rpc).
 */
import type { Subscription } from '@tether/client';
import { createClient } from '@tether/client/share';

interface Got {
  n: number;
  offset: number;
}

const got: Got[] = [];
const gaps: unknown[] = [];
const states: string[] = [];
let client: ReturnType<typeof createClient> | undefined;
let current = '';
/** How many more times the token getter fails (a login that is not done yet). */
let failing = 0;
let sub: Subscription<{ n: number }> | undefined;

const api = {
  got,
  gaps,
  states,
  /** `worker`: true for the default, false to use the leader tab, or a script URL. */
  start(token: string, worker: boolean | string): Promise<void> {
    current = token;
    client = createClient({
      url: `ws://${location.host}/ws`,
      token: async () => {
        if (failing-- > 0) throw new Error('not logged in yet');
        return current;
      },
      share: 'tabs',
      ...(worker === true ? {} : { worker }),
      reconnect: { initialDelay: 100, maxDelay: 500 },
    });
    client.on('state', (s) => {
      states.push(s);
      document.getElementById('status')!.textContent = s;
    });
    sub = client.subscribe<{ n: number }>('room:lobby', {
      onMessage: (d, m) => got.push({ n: d.n, offset: m.offset }),
      onGap: (g) => gaps.push(g),
    });
    return client.connect().then(() => sub?.ready);
  },
  failTokens(n: number): void {
    failing = n;
  },
  state: () => client?.state,
  rtt: () => client?.stats.rtt,
  ping: () => client!.ping(),
  /** Log out and in as someone else, in this tab: close, then connect with the other token. */
  switchUser(token: string): Promise<void> {
    client!.close();
    current = token;
    return client!.connect();
  },
  publish: (n: number) => client!.publish('room:lobby', { n }).then((r) => r.offset),
  /** Who the server lists in room:lobby's presence. */
  presence: () => sub!.presence().then((list) => list.map((c) => c.user)),
  rpc: (a: number, b: number) => client!.rpc<number>('add', { a, b }),
  /** Which path this tab took: a SharedWorker exists, or the leader election. */
  path: () => (typeof SharedWorker === 'function' ? 'worker-capable' : 'locks'),
};

(window as unknown as { tether: typeof api }).tether = api;
document.getElementById('status')!.textContent = 'ready';
