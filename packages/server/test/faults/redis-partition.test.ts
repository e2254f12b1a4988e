/**
 * A partition between one server node and Redis (a TCP proxy blackholing that node's Redis
 * links, no FIN, no RST) while another node keeps its Redis: the cut-off node tells its
 * subscribers (`unavailable`), refuses publishes instead of accepting and dropping them, and
 * after the heal every subscriber on both nodes has every acknowledged publication once, in
 * order. Needs Redis: skipped with a printed reason locally, a failure under CI=true.
 */
import { randomBytes } from 'node:crypto';
import type { ServerError } from '@tether/client';
import { createRedisBroker } from '@tether/redis';
import { deleteKeys, REDIS_URL, redisUnreachable, reportUnreachable } from '@tether/redis/testing';
import { createServer, type TetherServer } from '@tether/server';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../support/fault-proxy.js';
import { type Follower, figures, follow, range, record, SECRET } from './stream.js';

const unreachable = await redisUnreachable();
reportUnreachable(unreachable);

const PREFIX = `tether-fault-test:${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`;
const servers: TetherServer[] = [];
const proxies: FaultProxy[] = [];
const followers: Follower[] = [];

/** A node whose Redis connections go to `redisUrl`, with test-sized health checks. */
async function node(redisUrl: string): Promise<{ tether: TetherServer; url: string }> {
  const tether = createServer({
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    auth: { jwtSecret: SECRET },
    broker: createRedisBroker({
      url: redisUrl,
      prefix: PREFIX,
      connectTimeout: 300,
      reconnect: { minDelay: 20, maxDelay: 100 },
      healthCheck: { interval: 100, timeout: 1_000 },
    }),
    heartbeat: { interval: 200, timeout: 400 },
    namespaces: { '*': { history: { size: 1_000, ttl: '1h' } } },
  });
  servers.push(tether);
  const { port } = await tether.listen();
  return { tether, url: `ws://127.0.0.1:${port}/ws` };
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

afterEach(async () => {
  for (const f of followers.splice(0)) f.client.close();
  // Proxies first: a node still cut off from Redis would wait on it while closing.
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.close({ deadline: 500 })));
});
afterAll(async () => {
  if (unreachable === undefined) await deleteKeys(PREFIX);
  console.info(`[reliability] redis partition: ${JSON.stringify(figures)}`);
});

describe.skipIf(unreachable !== undefined)('a partition between one node and Redis', () => {
  it('tells that node’s subscribers, refuses its publishes, and after the heal everyone has every acknowledged publication once', async () => {
    const redisPort = Number(new URL(REDIS_URL).port || 6379);
    const proxy = await FaultProxy.start({ host: new URL(REDIS_URL).hostname, port: redisPort }, 7);
    proxies.push(proxy);
    const a = await node(`redis://127.0.0.1:${proxy.port}`);
    const b = await node(REDIS_URL);
    const channel = 'room:redis-partition';
    const onA = await follow(a.url, 'ann', channel);
    const onB = await follow(b.url, 'bob', channel);
    // A second channel on node A: the replaced connections resubscribe every channel the node serves.
    const other = 'room:redis-partition-2';
    const otherOnA = await follow(a.url, 'cid', other);
    followers.push(onA, onB, otherOnA);
    const told: string[] = [];
    onA.client.on('error', (err) => told.push((err as ServerError).code));

    const acked = new Set<number>();
    const publish = async (at: TetherServer, k: number): Promise<void> => {
      await at.publish(channel, { k }, { key: `k${k}` });
      acked.add(k);
    };
    for (let k = 1; k <= 20; k++) await publish(k % 2 ? a.tether : b.tether, k);

    proxy.partition();
    // Node A hears nothing from Redis: it must notice by itself and say so.
    await until(() => told.includes('unavailable'), 3_000, 'node A’s subscribers to be told');
    expect(a.tether.broker.available()).toBe(false);
    const refused: number[] = [];
    for (let k = 21; k <= 60; k++) {
      if (k % 4 === 0) {
        // Refused at once (never accepted and then dropped).
        const t0 = Date.now();
        await expect(publish(a.tether, k)).rejects.toMatchObject({ name: 'BrokerUnavailableError' });
        expect(Date.now() - t0).toBeLessThan(500);
        refused.push(k);
      } else await publish(b.tether, k);
    }
    for (let k = 1; k <= 5; k++) await b.tether.publish(other, { k }, { key: `o${k}` });
    expect((await fetch(`${a.url.replace('ws', 'http').replace('/ws', '')}/readyz`)).status).toBe(503);

    proxy.heal();
    await until(() => a.tether.broker.available(), 5_000, 'node A to reach Redis again');
    // The publisher retries what was refused, with the same keys, then carries on.
    for (const k of refused) await publish(a.tether, k);
    for (let k = 61; k <= 80; k++) await publish(k % 2 ? a.tether : b.tether, k);

    for (let k = 6; k <= 10; k++) await b.tether.publish(other, { k }, { key: `o${k}` });
    await until(() => otherOnA.ks.length >= 10, 5_000, 'the second channel on node A');
    expect(otherOnA.ks).toEqual(range(1, 10));
    expect(otherOnA.gaps).toEqual([]);
    const total = 80;
    expect([...acked].sort((x, y) => x - y)).toEqual(range(1, total));
    await until(() => onA.ks.length >= total && onB.ks.length >= total, 5_000, 'every publication on both nodes');
    // Offsets order the stream; refused ones were retried later, so compare as sets and counts.
    for (const f of [onA, onB]) {
      expect(f.gaps).toEqual([]);
      expect(f.ks).toHaveLength(total);
      expect([...f.ks].sort((x, y) => x - y)).toEqual(range(1, total));
      record(
        0,
        [...f.ks].sort((x, y) => x - y),
        total,
      );
    }
    expect(onA.ks).toEqual(onB.ks);
    const history = await b.tether.history(channel);
    expect(history.publications.map((p) => (p.data as { k: number }).k)).toEqual(onB.ks);
    figures.faults++;
  });
});
