/**
 * A drain behind a load balancer, the Kubernetes way: two `tether serve` nodes on one Redis behind
 * a TCP balancer that probes `/readyz` (fixtures/balancer.ts); 60 SDK clients and the publisher
 * know only the balancer's URL. SIGTERM node A: the balancer sees it unready within its probe
 * interval, long before the drain delay ends, so when A's clients get 1012 and come back through
 * the balancer they all land on B at the first attempt, and every acknowledged publication still
 * reaches every client once, in order. rolling-restart.test.ts does it with a URL list, both ways.
 */
import { fileURLToPath } from 'node:url';
import { waitFor } from '@tether/broker/testing';
import { createClient, type TetherClient } from '@tether/client';
import { deleteKeys, REDIS_URL, redisUnreachable, reportUnreachable } from '@tether/redis/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signToken } from '../src/index.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';
import { freePort, type ServeProcess, startServe, stopServes } from './fixtures/serve-process.js';

const unreachable = await redisUnreachable();
reportUnreachable(unreachable);

const SECRET = 'rolling-balancer-secret-0123456789abcdef';
const API_KEY = 'rolling-balancer-api-key';
const PREFIX = `tether-rolling-lb-test:${Date.now().toString(36)}:`;
const CONFIG = fileURLToPath(new URL('./fixtures/rolling-restart.json', import.meta.url));
const DRAIN = { delay: 1_000, spread: 1_500, deadline: 6_000 };
const PROBE_INTERVAL = 200;
const CLIENTS = 60;
const CHANNEL = 'room:balanced';

const sdk: TetherClient[] = [];
let balancer: Balancer | undefined;
afterEach(async () => {
  for (const c of sdk.splice(0)) c.close();
  await balancer?.close();
  await stopServes();
});
afterAll(async () => {
  if (unreachable === undefined) await deleteKeys(PREFIX);
});

async function connections(node: ServeProcess): Promise<number> {
  const text = await (await fetch(`${node.http}/metrics`)).text();
  return Number(
    text
      .split('\n')
      .find((l) => l.startsWith('tether_connections '))
      ?.split(' ')[1],
  );
}

it.skipIf(unreachable !== undefined)(
  'behind a balancer that probes /readyz, a drained node’s clients all come back on the other node at the first attempt, losing nothing',
  async () => {
    const ports = [await freePort(), await freePort()];
    const [a, b] = (await Promise.all(
      ports.map((port) =>
        startServe(
          port,
          ['--broker', 'redis', '--redis-url', REDIS_URL, '--redis-prefix', PREFIX, '--config', CONFIG],
          { TETHER_JWT_SECRET: SECRET, TETHER_API_KEY: API_KEY },
        ),
      ),
    )) as [ServeProcess, ServeProcess];
    const lb = await startBalancer(ports, PROBE_INTERVAL);
    balancer = lb;
    expect([...lb.ready].sort()).toEqual([...ports].sort());

    const got: number[][] = [];
    const attempts: number[] = [];
    const closed: number[] = [];
    /** Per client: when it got 1012, and when it was subscribed again. */
    const closedAt: number[] = [];
    const backAt: number[] = [];
    const subs = Array.from({ length: CLIENTS }, (_, i) => {
      const client = createClient({ url: lb.url, token: () => signToken(SECRET, { user: `u${i}` }), WebSocket });
      sdk.push(client);
      got.push([]);
      attempts.push(0);
      client.on('close', ({ code }) => {
        if (code !== 1012) return;
        closed.push(i);
        closedAt[i] = Date.now();
      });
      client.on('reconnecting', () => {
        attempts[i] = (attempts[i] as number) + 1;
      });
      const sub = client.subscribe(CHANNEL, { onMessage: (_d, m) => got[i]?.push(m.offset) });
      sub.on('subscribed', () => {
        if (closedAt[i] !== undefined) backAt[i] = Date.now();
      });
      return sub;
    });
    await Promise.all(sdk.map((c) => c.connect()));
    await Promise.all(subs.map((s) => s.ready));
    // Round robin: both nodes hold clients.
    const onA = await connections(a);
    expect(onA).toBeGreaterThan(0);
    expect(onA).toBeLessThan(CLIENTS);

    // The publisher also knows only the balancer; a request without an answer is retried with its key.
    const acked: number[] = [];
    const refusals: number[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let k = 1; publishing; k++) {
        for (let attempt = 0; ; attempt++) {
          const res = await fetch(`${lb.http}/api/publish`, {
            method: 'POST',
            headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ channel: CHANNEL, data: k, key: `k${k}` }),
          }).catch(() => undefined);
          if (res?.status === 200) {
            acked.push(((await res.json()) as { offset: number }).offset);
            break;
          }
          if (res) refusals.push(res.status);
          if (attempt > 100) throw new Error(`publication ${k} not acknowledged`);
          // Pacing a retry, not synchronising anything.
          await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    await waitFor(() => acked.length >= 10, 10_000, 'traffic before the drain');

    const signalled = Date.now();
    a.child.kill('SIGTERM');
    await waitFor(() => !lb.ready.has(a.port), DRAIN.delay, 'the balancer to see A unready within the drain delay');
    const noticed = Date.now() - signalled;
    const exit = await a.exited;
    expect(exit.code).toBe(0);
    expect(closed).toHaveLength(onA);
    await waitFor(async () => (await connections(b)) === CLIENTS, 10_000, 'every client on B');
    await waitFor(() => subs.every((s) => s.state === 'subscribed'), 5_000, 'every client subscribed');
    // Each of A's clients reconnected once, through the balancer, straight to B.
    expect(closed.map((i) => attempts[i])).toEqual(closed.map(() => 1));
    const away = closed.map((i) => (backAt[i] as number) - (closedAt[i] as number));
    expect(Math.max(...away)).toBeLessThan(DRAIN.spread + 1_000);

    publishing = false;
    await publisher;
    expect(refusals).toEqual([]);
    const total = acked.length;
    expect([...acked].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    await waitFor(() => got.every((g) => g.length >= total), 10_000, `all ${total} publications at every client`);
    for (const g of got) expect(g).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    process.stdout.write(
      `[rolling restart behind a balancer] ${CLIENTS} clients (${onA} on A), ${total} publications; balancer saw A unready after ${noticed} ms (probe every ${PROBE_INTERVAL} ms), A exited after ${exit.at - signalled} ms; A's clients away at most ${Math.max(...away)} ms\n`,
    );
  },
  40_000,
);
