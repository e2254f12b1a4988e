import { afterEach, describe, expect, it } from 'vitest';
import { type Broker, type BrokerEvents, memoryBroker } from '../src/index.js';
import { cleanup, connectAs, type Frame, type RawClient, startServer } from './helpers.js';

afterEach(cleanup);

type Message = Frame & { offset: number; epoch: string; data: unknown };

describe('history and recovery', () => {
  it('replays exactly the N missed publications, in order, then continues live', async () => {
    const server = await startServer();
    const a = await connectAs(server);
    const first = await a.ok({ type: 'subscribe', channel: 'room:r' });
    await server.tether.publish('room:r', 'seen');
    const seen = (await a.next('message')) as Message;
    expect(seen.offset).toBe(1);
    a.close();
    await a.closed;
    for (let i = 0; i < 5; i++) await server.tether.publish('room:r', `missed ${i}`);

    const b = await connectAs(server);
    const r = await b.ok({ type: 'subscribe', channel: 'room:r', since: { offset: 1, epoch: first.epoch } });
    expect(r).toMatchObject({ offset: 6, epoch: first.epoch, recovered: true });
    const pubs = r.publications as Message[];
    expect(pubs.map((p) => p.offset)).toEqual([2, 3, 4, 5, 6]);
    expect(pubs.map((p) => p.data)).toEqual(['missed 0', 'missed 1', 'missed 2', 'missed 3', 'missed 4']);
    expect(pubs[0]).toMatchObject({ type: 'message', channel: 'room:r', ts: expect.any(Number) });
    await server.tether.publish('room:r', 'live');
    expect(await b.next('message')).toMatchObject({ offset: 7, data: 'live' });
  });

  it('says recovered: true with nothing to replay when nothing was missed', async () => {
    const server = await startServer();
    const a = await connectAs(server);
    await server.tether.publish('room:q', 1);
    const r0 = await a.ok({ type: 'subscribe', channel: 'room:q' });
    const r = await a.ok({ type: 'subscribe', channel: 'room:q', since: { offset: 1, epoch: r0.epoch } });
    expect(r).toEqual({ offset: 1, epoch: r0.epoch, recovered: true, publications: [] });
  });

  it('says recovered: false when history no longer covers the gap, the epoch changed, or the offset is ahead', async () => {
    const server = await startServer({ namespaces: { short: { history: { size: 3 } }, none: { history: false } } });
    const a = await connectAs(server);
    const r0 = await a.ok({ type: 'subscribe', channel: 'short:x' });
    for (let i = 0; i < 5; i++) await server.tether.publish('short:x', i);
    const beyond = await a.ok({ type: 'subscribe', channel: 'short:x', since: { offset: 0, epoch: r0.epoch } });
    expect(beyond).toEqual({ offset: 5, epoch: r0.epoch, recovered: false, publications: [] });
    const inside = await a.ok({ type: 'subscribe', channel: 'short:x', since: { offset: 2, epoch: r0.epoch } });
    expect(inside.recovered).toBe(true);
    expect((inside.publications as Message[]).map((p) => p.offset)).toEqual([3, 4, 5]);
    const otherEpoch = await a.ok({ type: 'subscribe', channel: 'short:x', since: { offset: 4, epoch: 'old-epoch' } });
    expect(otherEpoch).toMatchObject({ recovered: false, publications: [] });
    const ahead = await a.ok({ type: 'subscribe', channel: 'short:x', since: { offset: 99, epoch: r0.epoch } });
    expect(ahead).toMatchObject({ recovered: false, publications: [] });

    const n0 = await a.ok({ type: 'subscribe', channel: 'none:x' });
    await server.tether.publish('none:x', 1);
    const none = await a.ok({ type: 'subscribe', channel: 'none:x', since: { offset: 0, epoch: n0.epoch } });
    expect(none).toMatchObject({ offset: 1, recovered: false, publications: [] });
  });
});

/**
 * The memory broker answers history within the same tick, which would hide the race; this
 * wrapper makes history reads take a random few milliseconds of real time on both sides of
 * the read, as a networked broker does, so publications land while a subscribe is between "registered" and "replied".
 */
function slowHistory(broker: Broker): Broker {
  return {
    ...broker,
    name: broker.name,
    start: (e) => broker.start(e),
    history: async (channel, query) => {
      const pause = () => new Promise((r) => setTimeout(r, Math.floor(Math.random() * 4)));
      await pause();
      const result = await broker.history(channel, query);
      // The answer travels back while new publications are already being delivered.
      await pause();
      return result;
    },
  };
}

/** Reads frames strictly in arrival order and checks a channel's offsets run without gap or repeat. */
async function readUntil(c: RawClient, check: (f: Frame) => boolean, onMessage: (m: Message) => void): Promise<Frame> {
  for (;;) {
    const f = await c.next(undefined, 3_000);
    if (f.type === 'message') onMessage(f as Message);
    if (check(f)) return f;
  }
}

describe('publish racing subscribe', () => {
  it('never loses or repeats a publication around the subscribe reply (looped)', async () => {
    const server = await startServer({
      broker: slowHistory(memoryBroker()),
      namespaces: { race: { history: { size: 100_000 } } },
    });
    const channel = 'race:x';
    let publishing = true;
    let published = 0;
    const publisher = (async () => {
      while (publishing) {
        await server.tether.publish(channel, published++);
        // Yield to I/O so the subscriber's frames are handled while publications keep coming.
        await new Promise((r) => setImmediate(r));
      }
    })();

    const c = await connectAs(server);
    let expected = 0; // next offset this subscriber must see
    let epoch = '';
    const onMessage = (m: Message): void => {
      expect(m.offset, 'live message offset').toBe(expected);
      expected += 1;
    };
    let id = 0;
    try {
      for (let round = 0; round < 40; round++) {
        const resume = round % 2 === 1 && expected > 0;
        id += 1;
        c.send({
          type: 'subscribe',
          id,
          channel,
          ...(resume && { since: { offset: expected - 1, epoch } }),
        });
        const reply = (await readUntil(c, (f) => f.type === 'reply' && f.id === id, onMessage)) as Frame & {
          result: { offset: number; epoch: string; recovered: boolean; publications: Message[] };
        };
        const r = reply.result;
        epoch = r.epoch;
        if (resume) {
          expect(r.recovered).toBe(true);
          for (const p of r.publications) onMessage(p);
          expect(expected).toBe(r.offset + 1);
        } else {
          expected = r.offset + 1;
        }
        // Some live traffic must follow the reply, contiguous with it.
        const until = expected + 3;
        await readUntil(c, () => expected >= until, onMessage);
        id += 1;
        c.send({ type: 'unsubscribe', id, channel });
        const unsubId = id;
        await readUntil(c, (f) => f.type === 'reply' && f.id === unsubId, onMessage);
      }
    } finally {
      publishing = false;
      await publisher;
    }
    expect(published).toBeGreaterThan(100);
  });
});

describe('idempotent publish', () => {
  it('returns the original offset for a repeated key and publishes once (client, server and HTTP)', async () => {
    const server = await startServer();
    const a = await connectAs(server);
    await a.ok({ type: 'subscribe', channel: 'room:i' });
    const p1 = await a.ok({ type: 'publish', channel: 'room:i', data: 'once', key: 'k-1' });
    const p2 = await a.ok({ type: 'publish', channel: 'room:i', data: 'once', key: 'k-1' });
    expect(p2).toEqual(p1);
    const s1 = await server.tether.publish('room:i', 'srv', { key: 'k-2' });
    const s2 = await server.tether.publish('room:i', 'srv', { key: 'k-2' });
    expect(s2).toEqual(s1);
    const http = async () =>
      (
        await fetch(`${server.http}/api/publish`, {
          method: 'POST',
          headers: { authorization: 'Bearer test-api-key', 'content-type': 'application/json' },
          body: JSON.stringify({ channel: 'room:i', data: 'http', key: 'k-3' }),
        })
      ).json();
    const h1 = await http();
    expect(await http()).toEqual(h1);
    expect([p1.offset, s1.offset, h1.offset]).toEqual([1, 2, 3]);
    await server.tether.publish('room:i', 'marker');
    const got: unknown[] = [];
    for (;;) {
      const m = await a.next('message');
      got.push(m.data);
      if (m.data === 'marker') break;
    }
    expect(got).toEqual(['once', 'srv', 'http', 'marker']);
  });
});

describe('broker outage', () => {
  it('tells subscribers, and only them, when the broker loses its store', async () => {
    let events: BrokerEvents | undefined;
    const inner = memoryBroker();
    const broker: Broker = {
      ...inner,
      name: 'flaky',
      start: (e) => {
        events = e;
        return inner.start(e);
      },
    };
    const server = await startServer({ broker });
    const subscriber = await connectAs(server, 'alice');
    const idle = await connectAs(server, 'bob');
    expect(await subscriber.request({ type: 'subscribe', channel: 'room:out' })).toMatchObject({ ok: true });
    events?.availability(false);
    expect(await subscriber.next('error')).toMatchObject({ error: { code: 'unavailable' } });
    // The idle connection got nothing: its next frame is the answer to its own ping.
    idle.send({ type: 'ping', id: 99 });
    expect(await idle.next()).toEqual({ type: 'pong', id: 99 });
  });
});
