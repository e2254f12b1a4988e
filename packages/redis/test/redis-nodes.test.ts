import type { BrokerPublishOptions } from '@tether/broker';
import { type EventRecorder, recordEvents, waitFor } from '@tether/broker/testing';
import { createClient } from 'redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisBroker, type RedisBroker, type RedisBrokerOptions } from '../src/index.js';
import {
  deleteKeys,
  PREFIX,
  type PrivateRedis,
  REDIS_URL,
  redisServerMissing,
  redisUnreachable,
  reportServerMissing,
  reportUnreachable,
  startPrivateRedis,
} from '../src/testing.js';

const unreachable = await redisUnreachable();
reportUnreachable(unreachable);
const noServer = redisServerMissing();
reportServerMissing(noServer, '@tether/redis tests');

const opts = (over: Partial<BrokerPublishOptions> = {}): BrokerPublishOptions => ({
  historySize: 1000,
  historyTtl: 60_000,
  dedupTtl: 60_000,
  ...over,
});

interface Node {
  broker: RedisBroker;
  events: EventRecorder;
}

const nodes: Node[] = [];
const node = async (extra: RedisBrokerOptions = {}): Promise<Node> => {
  const broker = createRedisBroker({ url: REDIS_URL, prefix: PREFIX, ...extra });
  const events = recordEvents();
  nodes.push({ broker, events });
  await broker.start(events);
  await broker.presence.start(events);
  return { broker, events };
};

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.broker.close();
});
afterAll(async () => {
  if (unreachable === undefined) await deleteKeys();
});

describe.skipIf(unreachable !== undefined)('createRedisBroker across nodes', () => {
  it('delivers every publication to every node in one global offset order under concurrent publishers', async () => {
    const [a, b, c] = [await node(), await node(), await node()];
    const ch = `room:cross-${Date.now()}`;
    await a.broker.subscribe(ch);
    await b.broker.subscribe(ch);
    const publishers = [a, b, c].map((n, i) =>
      (async () => {
        const outs = [];
        for (let k = 0; k < 30; k++) outs.push(await n.broker.publish(ch, { node: i, k }, opts()));
        return outs;
      })(),
    );
    const outcomes = (await Promise.all(publishers)).flat();
    expect(outcomes.map((o) => o.publication.offset).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 90 }, (_, i) => i + 1),
    );
    expect(new Set(outcomes.map((o) => o.publication.epoch)).size).toBe(1);
    for (const n of [a, b]) {
      await waitFor(() => n.events.publications.length === 90, 5000, '90 publications');
      expect(n.events.publications.map((p) => p.offset)).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
    }
    // Each publisher's own messages stay in the order it sent them.
    for (let i = 0; i < 3; i++) {
      const ks = a.events.publications
        .filter((p) => (p.data as { node: number }).node === i)
        .map((p) => (p.data as { k: number }).k);
      expect(ks).toEqual(Array.from({ length: 30 }, (_, k) => k));
    }
    expect(c.events.publications).toEqual([]);
  });

  it('dedups a key across nodes', async () => {
    const [a, b] = [await node(), await node()];
    const ch = `room:dedup-${Date.now()}`;
    const first = await a.broker.publish(ch, 'x', opts({ key: 'once' }));
    const again = await b.broker.publish(ch, 'x', opts({ key: 'once' }));
    expect(again).toEqual({ publication: first.publication, duplicate: true });
    expect((await b.broker.history(ch)).publications).toHaveLength(1);
  });

  it('shows presence on all nodes, and a crashed node’s entries expire with a leave', async () => {
    const [a, b] = [await node(), await node({ sweepInterval: 50 })];
    const ch = `room:presence-${Date.now()}`;
    await a.broker.subscribe(ch);
    await b.broker.subscribe(ch);
    await a.broker.presence.add(ch, { user: 'ann', connectionId: 'a1', info: { name: 'Ann' } }, 300);
    await b.broker.presence.add(ch, { user: 'bob', connectionId: 'b1' }, 60_000);
    await waitFor(() => b.events.joins.length === 2 && a.events.joins.length === 2, 3000, 'joins on both nodes');
    expect(b.events.joins.map((j) => j.client.connectionId)).toEqual(['a1', 'b1']);
    expect((await b.broker.presence.list(ch)).map((c) => c.user).sort()).toEqual(['ann', 'bob']);
    // Node A dies without removing its entry; nobody calls list(): B's sweep must notice.
    await a.broker.close();
    await waitFor(() => b.events.leaves.length === 1, 3000, 'the leave of the crashed node’s connection');
    expect(b.events.leaves[0]).toEqual({
      channel: ch,
      client: { user: 'ann', connectionId: 'a1', info: { name: 'Ann' } },
    });
    expect((await b.broker.presence.list(ch)).map((c) => c.user)).toEqual(['bob']);
  });

  it('pages presence by connection id over more entries than one chunk of the list script, and indexes entries written before presl existed', async () => {
    const a = await node();
    const ch = `room:pages-${Date.now()}`;
    const probe = createClient({ url: REDIS_URL });
    await probe.connect();
    try {
      const ids = Array.from({ length: 2500 }, (_, i) => `c${String(i).padStart(4, '0')}`);
      // As an older version wrote them: the hash and the expiry set, no presl.
      const pres = `${PREFIX}{${ch}}:pres`;
      await probe.hSet(
        pres,
        Object.fromEntries(ids.map((id) => [id, JSON.stringify({ user: 'u', connectionId: id })])),
      );
      await probe.zAdd(
        `${PREFIX}{${ch}}:presx`,
        ids.map((id) => ({ score: Date.now() + 60_000, value: id })),
      );
      await probe.pExpire(pres, 60_000);
      const all = await a.broker.presence.list(ch);
      expect(all.map((c) => c.connectionId)).toEqual(ids);
      expect(await probe.zCard(`${PREFIX}{${ch}}:presl`)).toBe(2500);
      expect(await probe.pTTL(`${PREFIX}{${ch}}:presl`)).toBeGreaterThan(0);
      const seen: string[] = [];
      for (let after: string | undefined; ; ) {
        const page = await a.broker.presence.list(ch, after === undefined ? { limit: 1100 } : { after, limit: 1100 });
        seen.push(...page.map((c) => c.connectionId));
        if (page.length < 1100) break;
        after = page.at(-1)?.connectionId;
      }
      expect(seen).toEqual(ids);
      await a.broker.presence.remove(ch, { user: 'u', connectionId: 'c0001' });
      expect(await probe.zScore(`${PREFIX}{${ch}}:presl`, 'c0001')).toBeNull();
      expect((await a.broker.presence.list(ch, { limit: 2 })).map((c) => c.connectionId)).toEqual(['c0000', 'c0002']);
    } finally {
      probe.destroy();
    }
  });

  it('keeps one Redis subscription per node per channel, however often the node subscribes', async () => {
    const a = await node();
    const ch = `room:numsub-${Date.now()}`;
    await Promise.all([a.broker.subscribe(ch), a.broker.subscribe(ch), a.broker.subscribe(ch)]);
    const probe = createClient({ url: REDIS_URL });
    await probe.connect();
    try {
      expect(await probe.pubSubNumSub(`${PREFIX}pub:${ch}`)).toEqual({ [`${PREFIX}pub:${ch}`]: 1 });
      await a.broker.unsubscribe(ch);
      expect(await probe.pubSubNumSub(`${PREFIX}pub:${ch}`)).toEqual({ [`${PREFIX}pub:${ch}`]: 0 });
    } finally {
      probe.destroy();
    }
  });
});

describe.skipIf(noServer !== undefined)('createRedisBroker when Redis goes away', () => {
  let redis: PrivateRedis | undefined;
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.broker.close();
    await redis?.dispose();
    redis = undefined;
  });

  it('rejects with unavailable while Redis is down, reports it, and loses no acknowledged publication', async () => {
    redis = await startPrivateRedis();
    const a = await node({ url: redis.url, reconnect: { minDelay: 20, maxDelay: 100 } });
    const ch = 'room:outage';
    await a.broker.subscribe(ch);
    const acked = [];
    for (let i = 1; i <= 5; i++) acked.push((await a.broker.publish(ch, i, opts())).publication);
    await waitFor(() => a.events.publications.length === 5, 3000, 'five publications');
    expect(a.broker.available()).toBe(true);

    await redis.kill();
    await waitFor(() => a.events.availabilityChanges.includes(false), 3000, 'availability(false)');
    expect(a.broker.available()).toBe(false);
    await expect(a.broker.publish(ch, 'lost?', opts())).rejects.toMatchObject({
      name: 'BrokerUnavailableError',
      code: 'unavailable',
    });
    await expect(a.broker.history(ch)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(a.broker.presence.list(ch)).rejects.toMatchObject({ code: 'unavailable' });

    await redis.restart();
    await waitFor(() => a.broker.available(), 5000, 'availability to return');
    expect(a.events.availabilityChanges.at(-1)).toBe(true);
    const h = await a.broker.history(ch);
    expect(h.epoch).toBe(acked[0]?.epoch);
    expect(h.publications).toEqual(acked);
    const six = await a.broker.publish(ch, 6, opts());
    expect(six.publication).toMatchObject({ offset: 6, epoch: acked[0]?.epoch });
    // The channel was resubscribed after the reconnection.
    await waitFor(() => a.events.publications.length === 6, 3000, 'the publication after the outage');
    expect(a.events.publications.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('starts a new epoch when Redis comes back without its data, so the loss shows', async () => {
    redis = await startPrivateRedis(false);
    const a = await node({ url: redis.url, reconnect: { minDelay: 20, maxDelay: 100 } });
    const ch = 'room:amnesia';
    await a.broker.subscribe(ch);
    const before = (await a.broker.publish(ch, 'before', opts())).publication;
    await a.broker.publish(ch, 'before 2', opts());
    // Both delivered first: Redis forgets them on the way, so nothing could fill that gap later.
    await waitFor(() => a.events.publications.length === 2, 3000, 'the two publications before the outage');
    await redis.kill();
    await waitFor(() => !a.broker.available(), 3000, 'the outage to show');
    await redis.restart();
    await waitFor(() => a.broker.available(), 5000, 'Redis to come back');
    // The scripts are gone too (NOSCRIPT): the broker loads them again on the way.
    const after = (await a.broker.publish(ch, 'after', opts())).publication;
    expect(after.offset).toBe(1);
    expect(after.epoch).not.toBe(before.epoch);
    const h = await a.broker.history(ch, { since: 2 });
    expect(h.epoch).toBe(after.epoch);
    await waitFor(() => a.events.publications.some((p) => p.data === 'after'), 3000, 'the new-epoch publication');
    expect(a.events.publications.map((p) => [p.data, p.offset])).toEqual([
      ['before', 1],
      ['before 2', 2],
      ['after', 1],
    ]);
  });

  it('rejects start() with BrokerUnavailableError when Redis never answers', async () => {
    redis = await startPrivateRedis(false);
    const url = redis.url;
    await redis.kill();
    const broker = createRedisBroker({ url, prefix: PREFIX, connectTimeout: 300 });
    const started = Date.now();
    await expect(broker.start(recordEvents())).rejects.toMatchObject({
      name: 'BrokerUnavailableError',
      code: 'unavailable',
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(broker.available()).toBe(false);
    await broker.close();
  });

  it('fills a gap that starts at offset 1, on a channel that was empty when the node subscribed', async () => {
    redis = await startPrivateRedis();
    const url = redis.url;
    const a = await node({ url });
    const b = await node({ url, reconnect: { minDelay: '400ms', maxDelay: '400ms' } });
    const ch = 'room:gap-from-empty';
    await b.broker.subscribe(ch);
    const admin = createClient({ url });
    await admin.connect();
    try {
      await deafen(admin);
      await a.broker.publish(ch, 1, opts());
      await a.broker.publish(ch, 2, opts());
      expect(await admin.pubSubNumSub(`${PREFIX}pub:${ch}`)).toEqual({ [`${PREFIX}pub:${ch}`]: 0 });
      await admin.sendCommand(['CONFIG', 'SET', 'maxclients', '10000']);
      await waitFor(() => b.events.publications.length >= 2, 5000, 'the missed publications');
      expect(b.events.publications.map((p) => p.offset)).toEqual([1, 2]);
    } finally {
      admin.destroy();
    }
  });

  it('fills the gap left by a lost subscriber connection, in order, exactly once', async () => {
    redis = await startPrivateRedis();
    const url = redis.url;
    const a = await node({ url });
    // A slow reconnect keeps B deaf long enough for the publications below to miss it.
    const b = await node({ url, reconnect: { minDelay: '400ms', maxDelay: '400ms' } });
    const ch = 'room:gap';
    await b.broker.subscribe(ch);
    await a.broker.publish(ch, 1, opts());
    await waitFor(() => b.events.publications.length === 1, 3000, 'the first publication');

    const admin = createClient({ url });
    await admin.connect();
    try {
      await deafen(admin);
      for (let i = 2; i <= 4; i++) await a.broker.publish(ch, i, opts());
      // Proof that B really was deaf when they went out: nobody was subscribed.
      expect(await admin.pubSubNumSub(`${PREFIX}pub:${ch}`)).toEqual({ [`${PREFIX}pub:${ch}`]: 0 });
      await admin.sendCommand(['CONFIG', 'SET', 'maxclients', '10000']);
      await waitFor(() => b.events.publications.length >= 4, 5000, 'the missed publications');
      await a.broker.publish(ch, 5, opts());
      await waitFor(() => b.events.publications.length >= 5, 3000, 'the live publication');
      expect(b.events.publications.map((p) => p.data)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      admin.destroy();
    }
  });
});

/**
 * Drops every subscriber connection of a private Redis and keeps them out for one reconnect
 * delay: node-redis reconnects at once after a drop, and a full server makes that attempt fail.
 * Undo with `CONFIG SET maxclients 10000`.
 */
async function deafen(admin: { sendCommand(args: string[]): Promise<unknown> }): Promise<void> {
  const info = String(await admin.sendCommand(['INFO', 'clients']));
  const connected = Number(/connected_clients:(\d+)/.exec(info)?.[1]);
  await admin.sendCommand(['CONFIG', 'SET', 'maxclients', String(connected - 1)]);
  await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
}
