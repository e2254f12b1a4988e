/**
 * Several real server processes sharing one real Redis: cross-node delivery and ordering,
 * presence across nodes, failover after SIGKILL with full recovery, and a Redis outage with no
 * acknowledged publication lost.
 */
import { randomBytes } from 'node:crypto';
import type { Publication } from '@tether/broker';
import { waitFor } from '@tether/broker/testing';
import {
  deleteKeys,
  type PrivateRedis,
  REDIS_URL,
  redisServerMissing,
  redisUnreachable,
  reportServerMissing,
  reportUnreachable,
  startPrivateRedis,
} from '@tether/redis/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  closeClients,
  Follower,
  httpPublish,
  type NodeProcess,
  RawClient,
  startNode,
  stopNodes,
} from './fixtures/cluster.js';

const unreachable = await redisUnreachable();
reportUnreachable(unreachable);
const noServer = redisServerMissing();
reportServerMissing(noServer, 'cluster tests');

const PREFIX = `tether-cluster-test:${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`;
const redisNode = (url = REDIS_URL): Promise<NodeProcess> =>
  startNode({ NODE_BROKER: 'redis', REDIS_URL: url, REDIS_PREFIX: PREFIX });

afterEach(async () => {
  closeClients();
  await stopNodes();
});
afterAll(async () => {
  if (unreachable === undefined) await deleteKeys(PREFIX);
});

const offsets = (ps: Publication[]): number[] => ps.map((p) => p.offset);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe.skipIf(unreachable !== undefined)('three nodes sharing Redis', () => {
  it('delivers to clients on every node in one offset order under concurrent publishers', async () => {
    const nodes = await Promise.all([redisNode(), redisNode(), redisNode()]);
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const channel = 'room:order';
    const followers = [new Follower(channel), new Follower(channel)];
    await followers[0]?.attach(await RawClient.connect(a.url, 'ann'));
    await followers[1]?.attach(await RawClient.connect(b.url, 'bob'));
    const writer = await RawClient.connect(c.url, 'cid');
    expect((await writer.request({ type: 'subscribe', channel })).ok).toBe(true);

    const perPublisher = 25;
    const viaHttp = nodes.map((n, i) =>
      (async () => {
        for (let k = 0; k < perPublisher; k++) {
          const res = await httpPublish(n.http, channel, { src: `http${i}`, k });
          expect(res.status).toBe(200);
        }
      })(),
    );
    const viaWs = (async () => {
      for (let k = 0; k < perPublisher; k++) {
        const reply = await writer.request({ type: 'publish', channel, data: { src: 'ws', k } });
        expect(reply.ok).toBe(true);
      }
    })();
    await Promise.all([...viaHttp, viaWs]);
    const total = perPublisher * 4;
    for (const f of followers) {
      await waitFor(() => f.settle().length === total, 5000, `${total} messages`);
      expect(offsets(f.received)).toEqual(range(total));
      // Every publisher's messages arrive in the order it sent them.
      for (const src of ['http0', 'http1', 'http2', 'ws']) {
        const ks = f.received
          .filter((p) => (p.data as { src: string }).src === src)
          .map((p) => (p.data as { k: number }).k);
        expect(ks).toEqual(Array.from({ length: perPublisher }, (_, k) => k));
      }
    }
    expect(new Set(followers.flatMap((f) => f.received.map((p) => p.epoch))).size).toBe(1);
  });

  it('shows presence of users on every node', async () => {
    const [a, b, c] = (await Promise.all([redisNode(), redisNode(), redisNode()])) as [
      NodeProcess,
      NodeProcess,
      NodeProcess,
    ];
    const channel = 'room:presence';
    const ann = await RawClient.connect(a.url, 'ann');
    const bob = await RawClient.connect(b.url, 'bob');
    expect((await ann.request({ type: 'subscribe', channel })).ok).toBe(true);
    expect((await bob.request({ type: 'subscribe', channel })).ok).toBe(true);
    await waitFor(
      () =>
        ann.frames.some(
          (f) =>
            f.type === 'presence_diff' && (f.joins as { user: string }[] | undefined)?.some((j) => j.user === 'bob'),
        ),
      5000,
      'ann to see bob join from another node',
    );
    const res = await fetch(`${c.http}/api/presence?channel=${encodeURIComponent(channel)}`, {
      headers: { authorization: 'Bearer cluster-test-api-key' },
    });
    const { clients } = (await res.json()) as { clients: Array<{ user: string }> };
    expect(clients.map((x) => x.user).sort()).toEqual(['ann', 'bob']);
    bob.close();
    await waitFor(
      () =>
        ann.frames.some(
          (f) =>
            f.type === 'presence_diff' && (f.leaves as { user: string }[] | undefined)?.some((j) => j.user === 'bob'),
        ),
      5000,
      'ann to see bob leave',
    );
  });

  it('fails over: a client on a SIGKILLed node reconnects to another and recovers every publication once, in order', async () => {
    const [a, b] = (await Promise.all([redisNode(), redisNode()])) as [NodeProcess, NodeProcess];
    const channel = 'room:failover';
    const follower = new Follower(channel);
    await follower.attach(await RawClient.connect(a.url, 'ann'));

    const total = 80;
    let acked = 0;
    const publisher = (async () => {
      for (let k = 1; k <= total; k++) {
        const res = await httpPublish(b.http, channel, { k }, `k${k}`);
        expect(res.status).toBe(200);
        expect(res.body.offset).toBe(k);
        acked = k;
      }
    })();
    await waitFor(() => acked >= 20 && follower.settle().length >= 10, 5000, 'traffic before the kill');
    await a.kill('SIGKILL');
    // The client notices the dead node and goes to the other one, resuming where it stopped.
    await follower.sessions[0]?.client.closed;
    const reply = await follower.attach(await RawClient.connect(b.url, 'ann'));
    expect((reply.result as { recovered: boolean }).recovered).toBe(true);
    await publisher;
    await waitFor(() => follower.settle().length === total, 5000, `all ${total} publications`);
    expect(offsets(follower.received)).toEqual(range(total));
    expect(follower.received.map((p) => (p.data as { k: number }).k)).toEqual(range(total));
  });
});

describe.skipIf(noServer !== undefined)('nodes when Redis goes away', () => {
  let redis: PrivateRedis | undefined;
  afterEach(async () => {
    closeClients();
    await stopNodes();
    await redis?.dispose();
    redis = undefined;
  });

  it('refuses publishes while Redis is down, turns /readyz red, and loses no acknowledged publication', async () => {
    redis = await startPrivateRedis();
    const [a, b] = (await Promise.all([redisNode(redis.url), redisNode(redis.url)])) as [NodeProcess, NodeProcess];
    const channel = 'room:outage';
    const follower = new Follower(channel);
    await follower.attach(await RawClient.connect(a.url, 'ann'));

    const total = 60;
    const acked: number[] = [];
    let refused = 0;
    // The publisher stops after 15 and goes on only once Redis is down, so some publishes must
    // meet the outage however fast or slow the machine is.
    let outageBegun: () => void = () => {};
    const outage = new Promise<void>((resolve) => {
      outageBegun = resolve;
    });
    const publisher = (async () => {
      for (let k = 1; k <= total; k++) {
        if (k === 16) await outage;
        // A client that got no acknowledgement retries with the same key until it gets one.
        for (;;) {
          const res = await httpPublish(b.http, channel, { k }, `k${k}`).catch(() => undefined);
          if (res?.status === 200) {
            acked.push(res.body.offset as number);
            break;
          }
          if (res) {
            expect(res.status).toBe(503);
            expect(res.body.error?.code).toBe('unavailable');
          }
          refused++;
          await waitFor(async () => (await fetch(`${b.http}/readyz`)).status === 200, 10_000, 'node B ready again');
        }
      }
    })();
    await waitFor(() => acked.length >= 15, 5000, 'publications before the outage');
    await redis.kill();
    outageBegun();
    await waitFor(async () => (await fetch(`${a.http}/readyz`)).status === 503, 5000, '/readyz to turn red');
    await waitFor(() => refused > 0, 5000, 'a refused publish');
    await redis.restart();
    await publisher;
    expect(acked).toEqual(range(total));
    await waitFor(() => follower.settle().length === total, 8000, `all ${total} publications on node A`);
    expect(follower.received.map((p) => (p.data as { k: number }).k)).toEqual(range(total));
    const history = await fetch(`${b.http}/api/history?channel=${encodeURIComponent(channel)}`, {
      headers: { authorization: 'Bearer cluster-test-api-key' },
    });
    const body = (await history.json()) as { publications: Publication[] };
    expect(offsets(body.publications)).toEqual(range(total));
  });
});
