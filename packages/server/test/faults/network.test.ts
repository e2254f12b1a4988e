/**
 * Network faults between a client and a real server, injected by a TCP proxy on loopback:
 * half-open links, connections cut mid-frame, latency spikes, partitions longer than the
 * heartbeat deadline and longer than the history window. Every publication is numbered and
 * counted: nothing lost, nothing duplicated, nothing out of order — or a reported gap.
 */
import { createServer, type ServerOptions, type TetherServer } from '@tether/server';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../support/fault-proxy.js';
import { type Follower, figures, follow, range, record, SECRET, sdkClient, tally } from './stream.js';

const INTERVAL = 150;
const TIMEOUT = 250;
const DEADLINE = INTERVAL + TIMEOUT;

const servers: TetherServer[] = [];
const proxies: FaultProxy[] = [];
const followers: Follower[] = [];

async function start(
  options: Partial<ServerOptions> = {},
): Promise<{ tether: TetherServer; proxy: FaultProxy; url: string }> {
  const tether = createServer({
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    auth: { jwtSecret: SECRET },
    heartbeat: { interval: INTERVAL, timeout: TIMEOUT },
    limits: { messagesPerSecond: 10_000 },
    // Room for every publication a test makes, so only the history-window test meets its limit.
    namespaces: { room: { history: { size: 10_000, ttl: '1h' } } },
    ...options,
  });
  servers.push(tether);
  const { port } = await tether.listen();
  const proxy = await FaultProxy.start({ port }, 0x5eed);
  proxies.push(proxy);
  return { tether, proxy, url: `ws://127.0.0.1:${proxy.port}/ws` };
}

async function tracked(url: string, user: string, channel: string, connectTimeout?: number): Promise<Follower> {
  const f = await follow(url, user, channel, connectTimeout);
  followers.push(f);
  return f;
}

/** Polls on the event loop until `check` holds, or fails naming `what` after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits for `total` deliveries; on a timeout says what did arrive. */
async function all(f: Follower, total: number): Promise<void> {
  await until(() => f.ks.length >= total, 5_000, `all ${total} publications`).catch((err: Error) => {
    const gaps = JSON.stringify(f.gaps);
    throw new Error(`${err.message}: got ${f.ks.length} (last ${f.ks.slice(-3)}), closes [${f.closes}], gaps ${gaps}`);
  });
}

/** Publishes `{k}` for k = from..to from server code, one every `every` ms. */
async function publishSeries(
  tether: TetherServer,
  channel: string,
  from: number,
  to: number,
  every = 2,
): Promise<void> {
  for (let k = from; k <= to; k++) {
    await tether.publish(channel, { k });
    if (every > 0) await new Promise((r) => setTimeout(r, every));
  }
}

afterEach(async () => {
  for (const f of followers.splice(0)) f.client.close();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.close({ deadline: 500 })));
});

afterAll(() => {
  // The figures quoted in docs/RELIABILITY.md come from this line.
  console.info(`[reliability] network faults: ${JSON.stringify(figures)}`);
});

describe('a half-open link (blackholed both ways, no FIN, no RST)', () => {
  it('is detected by the server and by the client within interval + timeout, and the client reconnects', async () => {
    const { tether, proxy, url } = await start();
    const channel = 'room:half-open';
    // A watcher straight on the server sees the server drop the peer: its presence `leave`.
    const leaves: number[] = [];
    const watcher = await sdkClient(`ws://127.0.0.1:${tether.address()?.port}/ws`, 'watcher');
    await watcher.connect();
    await watcher.subscribe(channel, {
      onLeave: (e) => {
        if (e.user === 'ann') leaves.push(Date.now());
      },
    }).ready;
    const f = await tracked(url, 'ann', channel);
    for (;;) {
      if ((await tether.presence(channel)).length === 2) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const closedAt = new Promise<number>((resolve) => f.client.once('close', () => resolve(Date.now())));
    const t0 = Date.now();
    proxy.blackhole('both', 'open');
    const clientSaw = (await closedAt) - t0;
    await until(() => leaves.length > 0, DEADLINE + 1_000, 'the server to drop the half-open peer');
    const serverSawAt = (leaves[0] as number) - t0;
    watcher.close();
    expect(f.closes).toEqual([4010]);
    // Both sides detect within interval + timeout of the last frame (which came before t0).
    expect(clientSaw).toBeLessThanOrEqual(DEADLINE + 150);
    expect(serverSawAt).toBeLessThanOrEqual(DEADLINE + 150);
    // The client reconnects through the same (now passing, for new links) proxy and resubscribes.
    await until(() => f.opens === 2, 3_000, 'the reconnect');
    await tether.publish(channel, { k: 1 });
    await until(() => f.ks.length === 1, 2_000, 'a publication after the reconnect');
    expect(f.ks).toEqual([1]);
    record(1, f.ks, 1);
  });
});

describe('a connection cut in the middle of a frame', () => {
  it('loses and duplicates nothing over repeated cuts while publications flow', async () => {
    const { tether, proxy, url } = await start();
    const channel = 'room:cut';
    const f = await tracked(url, 'ann', channel);
    const total = 400;
    const cuts = 5;
    const publishing = publishSeries(tether, channel, 1, total, 1);
    for (let i = 0; i < cuts; i++) {
      const opens = f.opens;
      await proxy.cutMidFrame();
      await until(() => f.opens > opens, 3_000, `reconnect after cut ${i + 1}`);
    }
    await publishing;
    await all(f, total);
    expect(f.closes.filter((c) => c === 1006)).toHaveLength(cuts);
    expect(f.gaps).toEqual([]);
    expect(tally(f.ks, total)).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
    expect(f.ks).toEqual(range(1, total));
    record(cuts, f.ks, total);
  });
});

describe('latency spikes (500 ms ± 300 ms each way)', () => {
  it('delivers every publication once and in order, and a publisher on the slow link publishes each once', async () => {
    // Heartbeat and connect timeouts sized for a 1.6 s round trip: this test is about latency, not loss of the link.
    const { tether, proxy, url } = await start({ heartbeat: { interval: 1_000, timeout: 1_000 } });
    const channel = 'room:slow';
    const f = await tracked(url, 'ann', channel, 3_000);
    const publisher = await sdkClient(url, 'pub', 3_000);
    await publisher.connect();
    // Clients publish only to channels they are subscribed to (the default namespace rule).
    const pub = publisher.subscribe(channel);
    await pub.ready;
    proxy.latency(500, 300);
    const total = 60;
    const sent: Promise<unknown>[] = [];
    for (let k = 1; k <= total; k++) {
      sent.push(pub.publish({ k }));
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => f.ks.length >= total / 2, 5_000, 'half the publications through the slow link');
    proxy.heal();
    await Promise.all(sent);
    await all(f, total);
    publisher.close();
    expect(f.ks).toEqual(range(1, total));
    const history = await tether.history(channel);
    expect(history.publications.map((p) => (p.data as { k: number }).k)).toEqual(range(1, total));
    record(1, f.ks, total);
  });
});

describe('a partition longer than the heartbeat deadline', () => {
  it('recovers every publication exactly once, in order, after the partition heals', async () => {
    const { tether, proxy, url } = await start();
    const channel = 'room:partition';
    const f = await tracked(url, 'ann', channel);
    const total = 200;
    const publishing = (async () => {
      await publishSeries(tether, channel, 1, 50);
      proxy.partition();
      // Publications go on during the partition; the client can neither see them nor reconnect.
      await publishSeries(tether, channel, 51, 150);
      await until(() => f.closes.length >= 1, 3_000, 'the client to give up on the link');
      const failedBefore = proxy.accepted;
      await until(() => proxy.accepted >= failedBefore + 2, 5_000, 'two reconnects into the partition');
      proxy.heal();
      await publishSeries(tether, channel, 151, total);
    })();
    await publishing;
    await all(f, total);
    expect(f.closes[0]).toBe(4010);
    expect(f.gaps).toEqual([]);
    expect(f.ks).toEqual(range(1, total));
    record(1, f.ks, total);
  });

  it('a publish whose reply was lost is resent after the reconnect and stored once', async () => {
    const { tether, proxy, url } = await start();
    const channel = 'room:lost-replies';
    const publisher = await sdkClient(url, 'pub');
    await publisher.connect();
    const pub = publisher.subscribe(channel);
    await pub.ready;
    await pub.publish({ k: 1 });
    // Publishes reach the server, but every reply (and ping) towards the client is dropped.
    proxy.blackhole('down', 'open');
    const results = range(2, 20).map((k) => pub.publish({ k }));
    const offsets = (await Promise.all(results)).map((r) => r.offset);
    publisher.close();
    expect(offsets).toEqual(range(2, 20));
    const history = await tether.history(channel);
    expect(history.publications.map((p) => (p.data as { k: number }).k)).toEqual(range(1, 20));
    record(
      1,
      history.publications.map((p) => (p.data as { k: number }).k),
      20,
    );
  });
});

describe('a partition longer than the history window', () => {
  it('reports a gap (onGap) instead of skipping silently, then carries on live', async () => {
    const { tether, proxy, url } = await start({ namespaces: { room: { history: { size: 5, ttl: '1m' } } } });
    const channel = 'room:short';
    const f = await tracked(url, 'ann', channel);
    await publishSeries(tether, channel, 1, 3);
    await until(() => f.ks.length === 3, 2_000, 'the first three');
    proxy.partition();
    await publishSeries(tether, channel, 4, 23, 0);
    await until(() => f.closes.length >= 1, 3_000, 'the client to give up on the link');
    proxy.heal();
    await until(() => f.gaps.length === 1, 3_000, 'the gap report');
    expect(f.gaps[0]).toMatchObject({ channel, since: { offset: 3 }, offset: 23 });
    await tether.publish(channel, { k: 24 });
    await until(() => f.ks.includes(24), 2_000, 'live delivery after the gap');
    // Nothing from inside the gap was passed off as a complete stream.
    expect(f.ks).toEqual([1, 2, 3, 24]);
    figures.faults++;
  });
});
