import type { Socket } from 'node:net';
import { CLIENT_FRAME_TYPES } from '@tether/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { TetherServer } from '../src/index.js';
import { socketOf } from '../src/ws-socket.js';
import { cleanup, connectAs, type Frame, RawClient, refusedStatus, startServer, token, waitFor } from './helpers.js';

afterEach(cleanup);

async function metric(tether: TetherServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = tether.metrics.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('frame size', () => {
  it('closes with 1009 when a frame exceeds maxPayload', async () => {
    const server = await startServer({ limits: { maxPayload: 1024 } });
    const c = await connectAs(server);
    c.send({ type: 'publish', id: 1, channel: 'room:x', data: 'x'.repeat(2000) });
    expect((await c.closed).code).toBe(1009);
  });
});

describe('rate limit', () => {
  it('answers rate_limited past the burst, then closes with 4008 under sustained abuse', async () => {
    const server = await startServer({ limits: { messagesPerSecond: 5, burst: 10, maxRejected: 20 } });
    const c = await connectAs(server);
    // Commands (liveness frames never count; see fuzz/promises.test.ts).
    for (let id = 1; id <= 60; id++) c.send({ type: 'rpc', id, method: 'none' });
    const { code } = await c.closed;
    expect(code).toBe(4008);
    const errorCode = (f: Record<string, unknown>) => (f.error as { code: string } | undefined)?.code;
    const answered = c.frames.filter((f) => f.type === 'reply' && errorCode(f) === 'not_found');
    const limited = c.frames.filter((f) => f.type === 'reply' && errorCode(f) === 'rate_limited');
    expect(answered.length).toBeGreaterThanOrEqual(10);
    expect(answered.length).toBeLessThan(15);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.length).toBeLessThanOrEqual(20);
    await waitFor(async () => (await metric(server.tether, 'tether_disconnects_total', { code: '4008' })) === 1);
  });
});

describe('slow consumers', () => {
  it('closes a client that never reads with 4009 and stops queueing for it', async () => {
    const maxBuffered = 256 * 1024;
    const server = await startServer({ limits: { maxBuffered } });
    const c = await connectAs(server);
    await c.ok({ type: 'subscribe', channel: 'room:flood' });
    const socket = socketOf(c.ws) as Socket;
    socket.pause();
    const chunk = 'x'.repeat(64 * 1024);
    let published = 0;
    // Publish until the server gives up on the reader (its subscription is freed at once).
    while ((await metric(server.tether, 'tether_subscriptions')) > 0) {
      if (published > 2_000) throw new Error('the server kept buffering for a client that never reads');
      await server.tether.publish('room:flood', chunk);
      published++;
      await new Promise((r) => setImmediate(r));
    }
    const sentAtClose = await metric(server.tether, 'tether_bytes_out_total');
    for (let i = 0; i < 100; i++) await server.tether.publish('room:flood', chunk);
    // Nothing more was handed to the socket after the decision to close.
    expect(await metric(server.tether, 'tether_bytes_out_total')).toBe(sentAtClose);
    expect(sentAtClose).toBeLessThan(published * chunk.length + 4096);
    // What the kernel's socket buffers absorbed plus maxBuffered: megabytes, not the whole stream.
    expect(sentAtClose).toBeLessThan(16 * 1024 * 1024);
    socket.resume();
    expect((await c.closed).code).toBe(4009);
    await waitFor(async () => (await metric(server.tether, 'tether_disconnects_total', { code: '4009' })) === 1);
  });
});

describe('connection limit', () => {
  it('refuses connections past maxConnections with HTTP 503 before the upgrade', async () => {
    const server = await startServer({ limits: { maxConnections: 2 } });
    await connectAs(server, 'a');
    const b = await connectAs(server, 'b');
    const t = await token('c');
    expect((await refusedStatus(server.url, { headers: { authorization: `Bearer ${t}` } })).status).toBe(503);
    b.close();
    await b.closed;
    await waitFor(() => server.tether.connections === 1, 2_000, 'the close to be seen');
    await connectAs(server, 'c');
  });
});

describe('heartbeat', () => {
  it('closes a silent client with 4010 within interval + timeout, and keeps a responsive one', async () => {
    const interval = 200;
    const timeout = 300;
    const server = await startServer({ heartbeat: { interval, timeout } });
    const silent = await RawClient.connect(server.url, { token: await token('s'), answerPings: false });
    const opened = Date.now();
    const alive = await connectAs(server, 'r');
    expect(await silent.next('ping', interval + 200)).toEqual({ type: 'ping' });
    const { code } = await silent.closed;
    const elapsed = Date.now() - opened;
    expect(code).toBe(4010);
    expect(elapsed).toBeGreaterThanOrEqual(interval + timeout - 20);
    expect(elapsed).toBeLessThan(interval + timeout + 400);
    // The pinging client outlives several more intervals.
    await waitFor(() => Date.now() - opened > 3 * (interval + timeout), 5_000, 'time to pass');
    alive.send({ type: 'ping', id: 1 });
    expect(await alive.next('pong')).toEqual({ type: 'pong', id: 1 });
  });

  it('frees the subscriptions and presence of a dead peer', async () => {
    const server = await startServer({ heartbeat: { interval: 100, timeout: 100 } });
    const watcher = await connectAs(server, 'w');
    await watcher.ok({ type: 'subscribe', channel: 'room:dead' });
    const ghost = await RawClient.connect(server.url, { token: await token('ghost'), answerPings: false });
    await ghost.next('welcome');
    await ghost.ok({ type: 'subscribe', channel: 'room:dead' });
    expect((await server.tether.presence('room:dead')).length).toBe(2);
    await waitFor(
      () => watcher.frames.some((f) => f.type === 'presence_diff' && JSON.stringify(f.leaves).includes('"ghost"')),
      2_000,
      'the ghost to leave',
    );
    expect((await server.tether.presence('room:dead')).map((p) => p.user)).toEqual(['w']);
    expect(await metric(server.tether, 'tether_subscriptions')).toBe(1);
  });
});

describe('malformed input', () => {
  it('closes with 4000 after more than 10 malformed frames within 10 s', async () => {
    const server = await startServer();
    const c = await connectAs(server);
    for (let i = 0; i < 11; i++) c.ws.send(`{"broken": ${i}`);
    expect((await c.closed).code).toBe(4000);
    expect(c.frames.filter((f) => f.type === 'error')).toHaveLength(10);
  });

  it('survives a few hundred seeded random frames while a well-formed client carries on', async () => {
    const server = await startServer({
      limits: { maxMalformed: 100_000, messagesPerSecond: 100_000, burst: 100_000, maxPayload: 64 * 1024 },
    });
    const good = await connectAs(server, 'good');
    await good.ok({ type: 'subscribe', channel: 'room:fuzz' });
    const fuzzJson = await connectAs(server, 'fuzzer');
    const fuzzPack = await connectAs(server, 'fuzzer2', { codec: 'msgpack' });

    let seed = 0x7e7e7e7e;
    const rand = (): number => {
      // mulberry32: deterministic, so a failure can be replayed.
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const values: unknown[] = [null, true, 0, -1, 1.5, 2 ** 60, '', 'x', [], {}, [1, [2]], { a: { b: 1 } }, 'room:x'];
    const types = [...CLIENT_FRAME_TYPES, 'zap'];
    const fields = ['id', 'channel', 'data', 'since', 'key', 'method', 'params', 'token', 'timestamp', '__proto__'];
    const generators: (() => string | Buffer)[] = [
      () => randomBytes(1 + Math.floor(rand() * 64)).toString('latin1'),
      () => `{"type":"${pick(types)}","id":${pick(['1', '-1', '"1"', 'null', '1e400', '0.5'])}`,
      () => '['.repeat(5_000) + ']'.repeat(5_000),
      () => `${'{"a":'.repeat(2_000)}1${'}'.repeat(2_000)}`,
      () => JSON.stringify(pick(values)),
      () => {
        const frame: Record<string, unknown> = { type: pick(types) };
        for (let i = 0; i < 3; i++) frame[pick(fields)] = pick(values);
        return JSON.stringify(frame);
      },
      () =>
        JSON.stringify({
          type: 'subscribe',
          id: 1 + Math.floor(rand() * 1e6),
          channel: pick(['a:', ':b', 'x'.repeat(300), 'ok:\u0000']),
        }),
      () => JSON.stringify({ type: 'publish', id: 5, channel: 'room:fuzz', data: 'x'.repeat(60_000) }),
      () => randomBytes(1 + Math.floor(rand() * 256)),
      () => '{"type":"rpc","id":3,"method":"x","params":{"__proto__":{"polluted":true}}}',
    ];

    for (let i = 0; i < 400; i++) {
      const payload = pick(generators)();
      const target = rand() < 0.7 ? fuzzJson : fuzzPack;
      if (target.ws.readyState !== target.ws.OPEN) continue;
      if (typeof payload === 'string') target.ws.send(payload);
      else target.ws.send(payload, { binary: true });
    }
    for (let i = 0; i < 100; i++) {
      if (fuzzPack.ws.readyState !== fuzzPack.ws.OPEN) break;
      fuzzPack.ws.send(randomBytes(1 + Math.floor(rand() * 128)), { binary: true });
    }
    // The fuzzing connections either still answer or were closed by a rule; never by a crash.
    for (const c of [fuzzJson, fuzzPack]) {
      if (c.ws.readyState === c.ws.OPEN) {
        c.send({ type: 'ping', id: 999_999 });
        while ((await c.next('pong')).id !== 999_999);
      } else {
        expect([1009, 4000]).toContain((await c.closed).code);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const r = await good.ok({ type: 'publish', channel: 'room:fuzz', data: 'still here' });
    expect((await good.next('message')) as Frame).toMatchObject({ offset: r.offset, data: 'still here' });
    const health = await fetch(`${server.http}/healthz`);
    expect(health.status).toBe(200);
  });
});
