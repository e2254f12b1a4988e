/**
 * The Web Locks election and the BroadcastChannel relay where the browser tests cannot reach: a
 * leader that freezes (its page stops running but keeps its lock and its socket). Only the two
 * browser APIs are fakes (a lock manager with the `steal`/`ifAvailable`/`signal` semantics of the
 * spec, and a channel bus that can cut one tab off); the tabs, hubs, clients and the Tether server
 * on loopback are real.
 */
import { createServer, signToken, type TetherServer } from '@tether/server';
import { afterEach, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { elect } from '../src/share/leader.js';
import { createTab } from '../src/share/tab.js';
import type { Subscription } from '../src/subscription.js';
import type { ClientOptions, TetherClient } from '../src/types.js';

const SECRET = 'share-election-secret-of-some-length-0123456789';
const abort = (): Error => Object.assign(new Error('aborted'), { name: 'AbortError' });

interface Waiter {
  owner: string;
  cb: (lock: { name: string } | null) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  settled?: boolean;
}

/**
 * Exclusive locks only: a FIFO queue per name; `steal` takes it at once and rejects the holder's
 * request — which a frozen page hears only when it thaws.
 */
class FakeLocks {
  held = new Map<string, Waiter>();
  queues = new Map<string, Waiter[]>();
  frozen = new Map<string, (() => void)[]>();
  /** The LockManager one tab sees. */
  of(owner: string): LockManager {
    return { request: (name: string, a: unknown, b?: unknown) => this.request(owner, name, a, b) } as LockManager;
  }
  freeze(owner: string): void {
    this.frozen.set(owner, []);
  }
  thaw(owner: string): void {
    for (const f of this.frozen.get(owner) ?? []) f();
    this.frozen.delete(owner);
  }
  request(owner: string, name: string, a: unknown, b?: unknown): Promise<unknown> {
    const opts = (typeof a === 'function' ? {} : a) as { steal?: boolean; ifAvailable?: boolean; signal?: AbortSignal };
    const cb = (typeof a === 'function' ? a : b) as Waiter['cb'];
    return new Promise((resolve, reject) => {
      const w: Waiter = { owner, cb, resolve, reject };
      const holder = this.held.get(name);
      if (opts.steal) {
        if (holder && !holder.settled) {
          holder.settled = true;
          const tell = (): void => holder.reject(abort());
          const later = this.frozen.get(holder.owner);
          if (later) later.push(tell);
          else tell();
        }
        return this.grant(name, w);
      }
      if (!holder) return this.grant(name, w);
      if (opts.ifAvailable) return void Promise.resolve(cb(null)).then(resolve, reject);
      const q = this.queues.get(name) ?? [];
      this.queues.set(name, q);
      q.push(w);
      opts.signal?.addEventListener('abort', () => {
        const i = q.indexOf(w);
        if (i >= 0) q.splice(i, 1);
        if (i >= 0) reject(abort());
      });
    });
  }
  private grant(name: string, w: Waiter): void {
    this.held.set(name, w);
    const done = (ok: boolean, v: unknown): void => {
      if (this.held.get(name) === w) {
        this.held.delete(name);
        const next = this.queues.get(name)?.shift();
        if (next) this.grant(name, next);
      }
      if (w.settled) return;
      w.settled = true;
      if (ok) w.resolve(v);
      else w.reject(v);
    };
    queueMicrotask(() => {
      Promise.resolve()
        .then(() => w.cb({ name }))
        .then(
          (v) => done(true, v),
          (e) => done(false, e),
        );
    });
  }
}

/** BroadcastChannel between fake tabs; a frozen tab neither sends nor receives. */
class Bus {
  chans = new Set<FakeChannel>();
  frozen = new Set<string>();
}
class FakeChannel {
  onmessage: ((e: { data: unknown }) => void) | null = null;
  constructor(
    readonly bus: Bus,
    readonly owner: string,
  ) {
    bus.chans.add(this);
  }
  postMessage(data: unknown): void {
    const copy = structuredClone(data);
    for (const c of this.bus.chans)
      if (c !== this)
        setTimeout(() => {
          if (!this.bus.frozen.has(this.owner) && !this.bus.frozen.has(c.owner) && this.bus.chans.has(c))
            c.onmessage?.({ data: copy });
        });
  }
  close(): void {
    this.bus.chans.delete(this);
  }
}

let server: TetherServer | undefined;
const stops: (() => void)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await server?.close();
  server = undefined;
});

async function connections(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^tether_connections (\d+)/m.exec(text)?.[1]);
}

it('a frozen leader is replaced within ~2 s: the others go on with every publication once, and the leader rejoins as a follower when it thaws', async () => {
  server = createServer({ host: '127.0.0.1', port: 0, auth: { jwtSecret: SECRET }, logLevel: 'silent', drainDelay: 0 });
  const { port } = await server.listen();
  const token = await signToken(SECRET, { user: 'ada' });
  const options: ClientOptions = { url: `ws://127.0.0.1:${port}/ws`, WebSocket, token, reconnect: { minDelay: 50 } };
  const locks = new FakeLocks();
  const bus = new Bus();
  const tabs: { id: string; client: TetherClient; got: number[] }[] = [];
  const gaps: unknown[] = [];
  for (const id of ['a', 'b', 'c']) {
    const tab = createTab(options);
    const got: number[] = [];
    const sub = tab.client.subscribe<number>('room:x', { onMessage: (n) => got.push(n), onGap: (g) => gaps.push(g) });
    const channel = (): BroadcastChannel => new FakeChannel(bus, id) as unknown as BroadcastChannel;
    stops.push(elect(tab, id, 'tether:test', options, { locks: locks.of(id), channel }));
    await tab.client.connect();
    await sub.ready;
    tabs.push({ id, client: tab.client, got });
  }
  expect(await connections(port)).toBe(1);
  await server.publish('room:x', 1);
  for (const t of tabs) await vi.waitFor(() => expect(t.got).toEqual([1]));

  // Tab a (the first, the leader) freezes: its socket stays open, it relays nothing.
  bus.frozen.add('a');
  locks.freeze('a');
  const frozenAt = Date.now();
  await server.publish('room:x', 2);
  const [, b, c] = tabs;
  for (const t of [b!, c!]) await vi.waitFor(() => expect(t.got).toEqual([1, 2]), { timeout: 3000, interval: 10 });
  const takeover = Date.now() - frozenAt;
  console.log(`share-election: a frozen leader was replaced and the publication arrived after ${takeover} ms`);
  // The defaults: probed every 500 ms, replaced after 1500 ms of silence, then a connect.
  expect(takeover).toBeLessThan(3000);
  expect(await connections(port)).toBe(2); // the frozen page's socket is still open

  // Tab a thaws: its lock was stolen, it steps down (closing its socket) and follows tab b.
  bus.frozen.delete('a');
  locks.thaw('a');
  await vi.waitFor(async () => expect(await connections(port)).toBe(1), { timeout: 3000 });
  await server.publish('room:x', 3);
  for (const t of tabs)
    await vi.waitFor(
      () =>
        expect({ id: t.id, got: t.got, state: t.client.state }).toEqual({ id: t.id, got: [1, 2, 3], state: 'open' }),
      { timeout: 3000 },
    );
  expect(gaps).toEqual([]);
  // Requests still go through the new leader, and come back to the tab that asked.
  expect(await c!.client.rpc('nope').catch((e: Error) => e.name)).toBe('ServerError');
});

it('a leader that closes hands over to the next tab in line at once, and a follower that closes lets go of its subscription', async () => {
  server = createServer({ host: '127.0.0.1', port: 0, auth: { jwtSecret: SECRET }, logLevel: 'silent', drainDelay: 0 });
  const { port } = await server.listen();
  const token = await signToken(SECRET, { user: 'ada' });
  const options: ClientOptions = { url: `ws://127.0.0.1:${port}/ws`, WebSocket, token };
  const locks = new FakeLocks();
  const bus = new Bus();
  const tabs: { leave: () => void; client: TetherClient; got: number[]; sub: Subscription<number> }[] = [];
  for (const id of ['a', 'b', 'c']) {
    const tab = createTab(options);
    const got: number[] = [];
    const sub = tab.client.subscribe<number>('room:y', { onMessage: (n) => got.push(n) });
    const channel = (): BroadcastChannel => new FakeChannel(bus, id) as unknown as BroadcastChannel;
    const leave = elect(tab, id, 'tether:test2', options, { locks: locks.of(id), channel, probe: 100, dead: 5000 });
    stops.push(leave);
    await tab.client.connect();
    await sub.ready;
    tabs.push({ leave, client: tab.client, got, sub });
  }
  const [a, b, c] = tabs as [(typeof tabs)[0], (typeof tabs)[0], (typeof tabs)[0]];
  // The leader's page closes: its lock is free, its socket goes.
  const closedAt = Date.now();
  a.client.close();
  a.leave();
  await server.publish('room:y', 1);
  for (const t of [b, c]) await vi.waitFor(() => expect(t.got).toEqual([1]), { timeout: 3000, interval: 10 });
  // A takeover by probing would wait out `dead` (5 s here): the lock went to b at once.
  expect(Date.now() - closedAt).toBeLessThan(3000);
  await vi.waitFor(async () => expect(await connections(port)).toBe(1));
  // c closes: b's subscription stays, and c hears nothing more.
  const subs = (): Promise<number> =>
    fetch(`http://127.0.0.1:${port}/metrics`)
      .then((r) => r.text())
      .then((t) => Number(/^tether_subscriptions (\d+)/m.exec(t)?.[1]));
  c.client.close();
  await server.publish('room:y', 2);
  await vi.waitFor(() => expect(b.got).toEqual([1, 2]));
  expect(c.got).toEqual([1]);
  expect(await subs()).toBe(1);
  // A second channel in both b and a new tab d: one server subscription; one unsubscribe keeps it, the last ends it.
  const d = createTab(options);
  stops.push(
    elect(d, 'd', 'tether:test2', options, {
      locks: locks.of('d'),
      channel: () => new FakeChannel(bus, 'd') as unknown as BroadcastChannel,
      probe: 100,
      dead: 5000,
    }),
  );
  await d.client.connect();
  const inB = b.client.subscribe('room:z');
  const inD = d.client.subscribe('room:z');
  await Promise.all([inB.ready, inD.ready]);
  expect(await subs()).toBe(2);
  inD.unsubscribe();
  await server.publish('room:y', 3);
  await vi.waitFor(() => expect(b.got).toEqual([1, 2, 3]));
  expect(await subs()).toBe(2);
  inB.unsubscribe();
  await vi.waitFor(async () => expect(await subs()).toBe(1));
});
