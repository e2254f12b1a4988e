/**
 * The promises of docs/PROTOCOL.md held on every path, as an outside client written from that
 * page alone would check them: the same data rules for WebSocket JSON, MessagePack, the HTTP API
 * and server `publish`; one documented invalid-UTF-8 behaviour per path; MessagePack integers as
 * integers; `GET /api/history` paging and gap reporting; liveness frames never rate limited;
 * the disconnect metric's codes; the limits announced in `welcome`.
 */
import { msgpackCodec } from '@tether/protocol/msgpack';
import type { TetherServer } from '@tether/server';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { API_KEY, cleanup, connectAs, RawClient, startServer, token, waitFor } from '../helpers.js';

afterEach(cleanup);

const post = (http: string, body: string | Buffer, path = '/api/publish') =>
  fetch(`${http}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : new Blob([new Uint8Array(body)]),
  });

const deep = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = { d: v };
  return v;
};

/** Hostile `data` every path must refuse, as JSON text (so the keys survive serialisation). */
const HOSTILE_DATA: Record<string, string> = {
  __proto__: '{"__proto__":{"polluted":true}}',
  constructor: '{"a":{"constructor":{"prototype":{"polluted":true}}}}',
  prototype: '[{"prototype":1}]',
  'nested 200 deep': JSON.stringify(deep(200)),
};

async function metric(tether: TetherServer, name: string, labels: Record<string, string>): Promise<number> {
  const m = tether.metrics.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('one set of data rules on every way in', () => {
  it('refuses hostile data over WebSocket JSON and MessagePack', async () => {
    const server = await startServer();
    const json = await connectAs(server, 'ann');
    const pack = await connectAs(server, 'bob', { codec: 'msgpack' });
    for (const c of [json, pack]) await c.ok({ type: 'subscribe', channel: 'room:rules' });
    let id = 100;
    for (const [name, data] of Object.entries(HOSTILE_DATA)) {
      id++;
      json.ws.send(`{"type":"publish","id":${id},"channel":"room:rules","data":${data}}`);
      expect(await json.reply(id), `json ${name}`).toMatchObject({ ok: false, error: { code: 'bad_request' } });
      pack.ws.send(msgpackCodec.encode({ type: 'publish', id, channel: 'room:rules', data: JSON.parse(data) }), {
        binary: true,
      });
      expect(await pack.reply(id), `msgpack ${name}`).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    }
    expect((await server.tether.history('room:rules')).publications).toEqual([]);
  });

  it('refuses the same data over POST /api/publish and the admin publish (400) and server publish (TypeError)', async () => {
    const server = await startServer({ admin: { page: false } });
    const watcher = await connectAs(server, 'ann');
    await watcher.ok({ type: 'subscribe', channel: 'news' });
    for (const [name, data] of Object.entries(HOSTILE_DATA)) {
      const res = await post(server.http, `{"channel":"news","data":${data}}`);
      expect(res.status, `HTTP ${name}`).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad_request');
      // The admin page's publish goes through the same pipeline.
      const admin = await post(server.http, `{"channel":"news","data":${data}}`, '/api/admin/publish');
      expect(admin.status, `admin ${name}`).toBe(400);
      expect(() => server.tether.publish('news', JSON.parse(data)), `server ${name}`).toThrow(TypeError);
    }
    expect((await server.tether.history('news')).publications).toEqual([]);
    expect(watcher.frames.filter((f) => f.type === 'message')).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('invalid UTF-8, one documented behaviour per path', () => {
  it('tether.v1: a text frame with invalid UTF-8 closes the connection with 1007, as RFC 6455 requires', async () => {
    const server = await startServer();
    const c = await connectAs(server, 'ann');
    c.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), { binary: false });
    expect((await c.closed).code).toBe(1007);
  });

  it('tether.v1.msgpack: invalid UTF-8 inside a string is replaced by U+FFFD, like any MessagePack decoder', async () => {
    const server = await startServer();
    const c = await connectAs(server, 'ann', { codec: 'msgpack' });
    await c.ok({ type: 'subscribe', channel: 'room:u' });
    const frame = Buffer.from(msgpackCodec.encode({ type: 'publish', id: 7, channel: 'room:u', data: 'ab' }));
    // Replace the two bytes of "ab" (the last two) with an invalid sequence.
    frame[frame.length - 2] = 0xff;
    frame[frame.length - 1] = 0xfe;
    c.ws.send(frame, { binary: true });
    expect((await c.reply(7)).ok).toBe(true);
    expect(await c.next('message')).toMatchObject({ data: '\ufffd\ufffd' });
  });

  it('HTTP: a body that is not valid UTF-8 is refused with 400', async () => {
    const server = await startServer();
    const body = Buffer.concat([
      Buffer.from('{"channel":"news","data":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const res = await post(server.http, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'bad_request', message: 'body must be valid UTF-8' } });
    expect((await server.tether.history('news')).publications).toEqual([]);
  });
});

/** The MessagePack type byte that follows the string key `key` in `bytes`. */
function typeAfterKey(bytes: Buffer, key: string): number {
  const k = Buffer.concat([Buffer.from([0xa0 | key.length]), Buffer.from(key)]);
  const at = bytes.indexOf(k);
  if (at < 0) throw new Error(`no key ${key}`);
  return bytes[at + k.length] as number;
}

describe('MessagePack integers', () => {
  it('sends ts, expiresAt and large integers as MessagePack integers (int64), not float64', async () => {
    const server = await startServer();
    // A plain socket, listening before it opens, so the welcome's bytes are seen as sent.
    const ws = new WebSocket(server.url, ['tether.v1.msgpack'], {
      headers: { authorization: `Bearer ${await token('ann', { expiresIn: 600 })}` },
    });
    const raw: Buffer[] = [];
    ws.on('message', (data: Buffer) => raw.push(data));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(msgpackCodec.encode({ type: 'subscribe', id: 1, channel: 'room:ints' }));
    await waitFor(() => raw.length >= 2, 2_000, 'the welcome and the subscribe reply');
    await server.tether.publish('room:ints', { big: 2 ** 40, neg: -(2 ** 40), small: 7 });
    await waitFor(() => raw.some((b) => b.includes(Buffer.from('big'))), 2_000, 'the message');
    ws.close();
    const message = raw.find((b) => b.includes(Buffer.from('big'))) as Buffer;
    expect(msgpackCodec.decode(new Uint8Array(message))).toMatchObject({
      data: { big: 2 ** 40, neg: -(2 ** 40), small: 7 },
    });
    const welcome = raw[0] as Buffer;
    // int64 (0xd3) for every integer past 32 bits, as docs/PROTOCOL.md says; never float64 (0xcb).
    expect(typeAfterKey(welcome, 'expiresAt')).toBe(0xd3);
    expect(typeAfterKey(message, 'ts')).toBe(0xd3);
    expect(typeAfterKey(message, 'big')).toBe(0xd3);
    expect(typeAfterKey(message, 'neg')).toBe(0xd3);
    expect(typeAfterKey(message, 'small')).toBe(7);
  });
});

describe('GET /api/history', () => {
  const history = async (http: string, query: string) => {
    const res = await fetch(`${http}/api/history?${query}`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as { offset: number; recovered?: boolean; publications: { offset: number }[] };
  };

  it('pages forward (since exclusive, limit keeps the oldest) and reports a gap with recovered: false', async () => {
    const server = await startServer({ namespaces: { room: { history: { size: 5, ttl: '1m' } } } });
    for (let k = 1; k <= 10; k++) await server.tether.publish('room:h', { k });
    const page = await history(server.http, 'channel=room:h&since=6&limit=2');
    expect(page.publications.map((p) => p.offset)).toEqual([7, 8]);
    expect(page.recovered).toBe(true);
    const tail = await history(server.http, 'channel=room:h&since=8');
    expect(tail.publications.map((p) => p.offset)).toEqual([9, 10]);
    expect(tail.recovered).toBe(true);
    // Offsets 3..5 are gone: the answer says so instead of passing 6..10 off as everything after 2.
    const gap = await history(server.http, 'channel=room:h&since=2');
    expect(gap.publications.map((p) => p.offset)).toEqual([6, 7, 8, 9, 10]);
    expect(gap.recovered).toBe(false);
  });
});

describe('liveness is never rate limited', () => {
  it('answers every ping with a pong during a burst that exhausts the rate limit', async () => {
    const server = await startServer({ limits: { messagesPerSecond: 5, burst: 5, maxRejected: 1_000 } });
    const c = await connectAs(server, 'ann');
    await c.ok({ type: 'subscribe', channel: 'room:burst' });
    for (let i = 0; i < 20; i++) c.send({ type: 'publish', id: 1_000 + i, channel: 'room:burst', data: i });
    for (let i = 0; i < 20; i++) c.send({ type: 'pong' });
    for (let id = 1; id <= 20; id++) c.send({ type: 'ping', id });
    for (let id = 1; id <= 20; id++) expect(await c.next('pong')).toEqual({ type: 'pong', id });
    expect(c.frames.some((f) => f.type === 'reply' && (f.id as number) < 1_000)).toBe(false);
  });
});

describe('the disconnect metric', () => {
  it('counts a close for an oversized frame as 1009 and one for invalid UTF-8 as 1007', async () => {
    const server = await startServer({ limits: { maxPayload: 1024 } });
    const big = await connectAs(server, 'ann');
    big.send({ type: 'publish', id: 1, channel: 'room:x', data: 'x'.repeat(2_000) });
    expect((await big.closed).code).toBe(1009);
    const bad = await connectAs(server, 'bob');
    bad.ws.send(Buffer.from([0xff]), { binary: false });
    expect((await bad.closed).code).toBe(1007);
    await waitFor(async () => server.tether.connections === 0, 2_000, 'both closes');
    expect(await metric(server.tether, 'tether_disconnects_total', { code: '1009' })).toBe(1);
    expect(await metric(server.tether, 'tether_disconnects_total', { code: '1007' })).toBe(1);
    expect(await metric(server.tether, 'tether_disconnects_total', { code: '1006' })).toBe(0);
  });
});

describe('welcome', () => {
  it('announces every per-connection limit a client can run into', async () => {
    const server = await startServer({
      limits: {
        maxPayload: 4096,
        messagesPerSecond: 7,
        burst: 9,
        maxMalformed: 3,
        maxBuffered: 8192,
        maxSubscriptions: 4,
      },
      namespaces: { '*': { maxDataSize: 2048 } },
    });
    const c = await RawClient.connect(server.url, { token: await token('ann') });
    expect((await c.next('welcome')).limits).toEqual({
      maxPayload: 4096,
      messagesPerSecond: 7,
      burst: 9,
      maxMalformed: 3,
      maxBuffered: 8192,
      maxSubscriptions: 4,
      maxDataSize: 2048,
    });
  });
});
