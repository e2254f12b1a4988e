import { afterEach, describe, expect, it } from 'vitest';
import { RpcError } from '../src/index.js';
import { cleanup, connectAs, type Frame, RawClient, startServer, token } from './helpers.js';

afterEach(cleanup);

describe('welcome and liveness frames', () => {
  it('welcomes with the connection id, user, heartbeat and limits', async () => {
    const server = await startServer({
      heartbeat: { interval: 5_000, timeout: 2_000 },
      limits: { maxPayload: 4096, messagesPerSecond: 20, maxSubscriptions: 7 },
    });
    const c = await RawClient.connect(server.url, { token: await token('alice') });
    const welcome = await c.next();
    expect(welcome).toMatchObject({
      type: 'welcome',
      protocol: 1,
      user: 'alice',
      heartbeat: { interval: 5_000, timeout: 2_000 },
      limits: { maxPayload: 4096, messagesPerSecond: 20, maxSubscriptions: 7 },
    });
    expect(welcome.connectionId).toEqual(expect.any(String));
    expect(welcome.expiresAt).toBeGreaterThan(Date.now());
    expect(c.ws.protocol).toBe('tether.v1');
  });

  it('answers ping with pong carrying the id, and echoes heartbeat frames', async () => {
    const server = await startServer();
    const c = await connectAs(server);
    c.send({ type: 'ping', id: 41 });
    expect(await c.next('pong')).toEqual({ type: 'pong', id: 41 });
    c.send({ type: 'ping' });
    expect(await c.next('pong')).toEqual({ type: 'pong' });
    c.send({ type: 'heartbeat', timestamp: 1234 });
    expect(await c.next('heartbeat')).toEqual({ type: 'heartbeat', timestamp: 1234 });
    c.send({ type: 'pong' });
    c.send({ type: 'ping', id: 42 });
    // Nothing answers a pong: the next frame is the pong for 42.
    expect(await c.next()).toEqual({ type: 'pong', id: 42 });
  });
});

describe('subscribe, publish, unsubscribe', () => {
  it('delivers a publication to every subscriber, with the publisher in `from`', async () => {
    const server = await startServer();
    const a = await connectAs(server, 'alice');
    const b = await connectAs(server, 'bob');
    const sub = await a.ok({ type: 'subscribe', channel: 'room:lobby' });
    expect(sub).toEqual({ offset: 0, epoch: expect.any(String), recovered: false, publications: [] });
    await b.ok({ type: 'subscribe', channel: 'room:lobby' });
    const pub = await b.ok({ type: 'publish', channel: 'room:lobby', data: { text: 'hi' } });
    expect(pub).toEqual({ offset: 1, epoch: sub.epoch });
    for (const c of [a, b]) {
      const m = await c.next('message');
      expect(m).toEqual({
        type: 'message',
        channel: 'room:lobby',
        offset: 1,
        epoch: sub.epoch,
        data: { text: 'hi' },
        from: 'bob',
        ts: expect.any(Number),
      });
    }
  });

  it('stops delivering after unsubscribe and replies {}', async () => {
    const server = await startServer();
    const a = await connectAs(server);
    await a.ok({ type: 'subscribe', channel: 'room:x' });
    expect(await a.ok({ type: 'unsubscribe', channel: 'room:x' })).toEqual({});
    await server.tether.publish('room:x', 'after');
    await server.tether.publish('room:y', 'marker');
    await a.ok({ type: 'subscribe', channel: 'room:y' });
    await server.tether.publish('room:y', 'live');
    const m = await a.next('message');
    expect(m.data).toBe('live');
    expect(a.frames.filter((f) => f.type === 'message')).toEqual([]);
  });

  it('serves msgpack clients the same publications as JSON clients', async () => {
    const server = await startServer();
    const j = await connectAs(server, 'alice');
    const m = await connectAs(server, 'bob', { codec: 'msgpack' });
    expect(m.ws.protocol).toBe('tether.v1.msgpack');
    await j.ok({ type: 'subscribe', channel: 'room:mix' });
    await m.ok({ type: 'subscribe', channel: 'room:mix' });
    await server.tether.publish('room:mix', { n: 1, bytes: 'x' });
    const [fj, fm] = [await j.next('message'), await m.next('message')];
    expect(fm).toEqual(fj);
  });

  it('refuses client publishes to channels one is not subscribed to (publish: subscribers)', async () => {
    const server = await startServer();
    const a = await connectAs(server);
    const r = await a.request({ type: 'publish', channel: 'room:z', data: 1 });
    expect(r).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  });

  it('honours namespace publish policies: server-only and nobody', async () => {
    const server = await startServer({
      namespaces: { news: { publish: 'server' }, quiet: { publish: 'nobody' }, open: { publish: 'clients' } },
    });
    const a = await connectAs(server);
    await a.ok({ type: 'subscribe', channel: 'news:today' });
    expect(await a.request({ type: 'publish', channel: 'news:today', data: 1 })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await server.tether.publish('news:today', 'from server')).toMatchObject({ offset: 1 });
    expect((await a.next('message')).data).toBe('from server');
    await expect(server.tether.publish('quiet:x', 1)).rejects.toMatchObject({ code: 'forbidden' });
    expect(await a.ok({ type: 'publish', channel: 'open:x', data: 1 })).toMatchObject({ offset: 1 });
  });

  it('throws TypeError for server-code publishes that could never be delivered', async () => {
    const server = await startServer();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => server.tether.publish('room:x', cyclic)).toThrow(TypeError);
    expect(() => server.tether.publish('room:x', 10n)).toThrow(TypeError);
    expect(() => server.tether.publish('room:x', undefined)).toThrow(TypeError);
    expect(() => server.tether.publish('bad\u0000name', 1)).toThrow(TypeError);
    expect(() => server.tether.publish('room:x', 1, { key: '' })).toThrow(TypeError);
    expect((await server.tether.history('room:x')).offset).toBe(0);
  });

  it('refuses a publication over the namespace maxDataSize with too_large', async () => {
    const server = await startServer({ namespaces: { small: { maxDataSize: 10 } } });
    const a = await connectAs(server);
    await a.ok({ type: 'subscribe', channel: 'small:x' });
    expect(await a.request({ type: 'publish', channel: 'small:x', data: 'x'.repeat(20) })).toMatchObject({
      ok: false,
      error: { code: 'too_large' },
    });
  });
});

describe('private user channels, claims and authorize', () => {
  it('lets only the owner subscribe to user:<id>, and only the server publish to it', async () => {
    const server = await startServer();
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    expect(await bob.request({ type: 'subscribe', channel: 'user:alice' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    await alice.ok({ type: 'subscribe', channel: 'user:alice' });
    expect(await alice.request({ type: 'publish', channel: 'user:alice', data: 1 })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    await server.tether.publish('user:alice', { kind: 'notice' });
    expect(await alice.next('message')).toMatchObject({ channel: 'user:alice', data: { kind: 'notice' } });
    expect(await bob.request({ type: 'presence', channel: 'user:alice' })).toMatchObject({ ok: false });
  });

  it("restricts a connection to its token's channels claim", async () => {
    const server = await startServer();
    const c = await RawClient.connect(server.url, { token: await token('carol', { channels: ['room:*'] }) });
    await c.next('welcome');
    await c.ok({ type: 'subscribe', channel: 'room:a' });
    expect(await c.request({ type: 'subscribe', channel: 'chat:a' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    // The own user channel stays reachable whatever the claim says.
    await c.ok({ type: 'subscribe', channel: 'user:carol' });
  });

  it('requires a claim in namespaces with subscribe: claim', async () => {
    const server = await startServer({ namespaces: { vip: { subscribe: 'claim' } } });
    const plain = await connectAs(server, 'alice');
    expect(await plain.request({ type: 'subscribe', channel: 'vip:1' })).toMatchObject({ ok: false });
    const vip = await RawClient.connect(server.url, { token: await token('bob', { channels: ['vip:*'] }) });
    await vip.ok({ type: 'subscribe', channel: 'vip:1' });
  });

  it('asks the authorize hook, which can refuse with false or a typed RpcError', async () => {
    const calls: string[] = [];
    const server = await startServer({
      authorize: (ctx, channel, action) => {
        calls.push(`${ctx.user}:${action}:${channel}`);
        if (channel === 'room:secret') return false;
        if (channel === 'room:gone') throw new RpcError('not_found', 'no such room');
        return true;
      },
    });
    const a = await connectAs(server);
    await a.ok({ type: 'subscribe', channel: 'room:ok' });
    expect(await a.request({ type: 'subscribe', channel: 'room:secret' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await a.request({ type: 'subscribe', channel: 'room:gone' })).toMatchObject({
      ok: false,
      error: { code: 'not_found', message: 'no such room' },
    });
    await a.ok({ type: 'publish', channel: 'room:ok', data: 1 });
    expect(calls).toEqual([
      'alice:subscribe:room:ok',
      'alice:subscribe:room:secret',
      'alice:subscribe:room:gone',
      'alice:publish:room:ok',
    ]);
  });
});

describe('a publish sent right behind its subscribe', () => {
  it('waits for the subscribe instead of being refused while a slow authorize hook runs', async () => {
    // The hook resolves only when the test says so: the publish arrives while the subscribe is mid-check.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await startServer({
      authorize: async (_ctx, _channel, action) => {
        if (action === 'subscribe') await gate;
        return true;
      },
    });
    const a = await connectAs(server);
    // Both frames leave before either answer, as an offline queue flushed after resubscribing sends them.
    const subscribed = a.request({ type: 'subscribe', channel: 'room:q' });
    const published = a.request({ type: 'publish', channel: 'room:q', data: 'queued' });
    release();
    expect(await subscribed).toMatchObject({ ok: true });
    expect(await published).toMatchObject({ ok: true, result: { offset: 1 } });
    expect(await a.next('message')).toMatchObject({ channel: 'room:q', offset: 1, data: 'queued' });
  });
});

describe('presence', () => {
  it('sends joins and leaves as presence_diff, lists clients, and counts tabs as connections', async () => {
    const server = await startServer();
    const a = await connectAs(server, 'alice');
    await a.ok({ type: 'subscribe', channel: 'room:p' });
    expect(await a.next('presence_diff')).toMatchObject({
      channel: 'room:p',
      joined: 1,
      left: 0,
      joins: [{ user: 'alice' }],
      leaves: [],
    });
    const b1 = await RawClient.connect(server.url, { token: await token('bob', { info: { name: 'Bob' } }) });
    const w1 = await b1.next('welcome');
    await b1.ok({ type: 'subscribe', channel: 'room:p' });
    expect(await a.next('presence_diff')).toEqual({
      type: 'presence_diff',
      channel: 'room:p',
      joined: 1,
      left: 0,
      joins: [{ user: 'bob', connectionId: w1.connectionId, info: { name: 'Bob' } }],
      leaves: [],
    });
    const b2 = await connectAs(server, 'bob');
    await b2.ok({ type: 'subscribe', channel: 'room:p' });
    await a.next('presence_diff');
    const list = await a.ok({ type: 'presence', channel: 'room:p' });
    const clients = list.clients as { user: string }[];
    expect(clients.map((c) => c.user).sort()).toEqual(['alice', 'bob', 'bob']);
    b1.terminate();
    expect(await a.next('presence_diff')).toMatchObject({
      joined: 0,
      left: 1,
      joins: [],
      leaves: [{ user: 'bob', connectionId: w1.connectionId }],
    });
    expect(((await a.ok({ type: 'presence', channel: 'room:p' })).clients as unknown[]).length).toBe(2);
  });

  it('answers presence with bad_request where a namespace has it off', async () => {
    const server = await startServer({ namespaces: { feed: { presence: false } } });
    const a = await connectAs(server);
    await a.ok({ type: 'subscribe', channel: 'feed:1' });
    expect(await a.request({ type: 'presence', channel: 'feed:1' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
  });
});

describe('rpc', () => {
  it('calls the handler with params and the connection context', async () => {
    const server = await startServer();
    server.tether.rpc('echo', (params, ctx) => ({ params, user: ctx.user, id: ctx.connectionId }));
    server.tether.rpc('nothing', () => undefined);
    const a = await connectAs(server);
    const r = await a.ok({ type: 'rpc', method: 'echo', params: { x: [1, 2] } });
    expect(r).toMatchObject({ params: { x: [1, 2] }, user: 'alice' });
    expect(await a.request({ type: 'rpc', method: 'nothing' })).toMatchObject({ ok: true, result: null });
  });

  it('answers an unknown method with not_found', async () => {
    const server = await startServer();
    const a = await connectAs(server);
    expect(await a.request({ type: 'rpc', method: 'nope' })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
  });

  it('turns RpcError into its code and any other throw into internal without a stack', async () => {
    const server = await startServer();
    server.tether.rpc('typed', () => {
      throw new RpcError('forbidden', 'not yours');
    });
    server.tether.rpc('boom', async () => {
      throw new Error('secret database detail');
    });
    const a = await connectAs(server);
    expect(await a.request({ type: 'rpc', method: 'typed' })).toEqual({
      type: 'reply',
      id: expect.any(Number),
      ok: false,
      error: { code: 'forbidden', message: 'not yours' },
    });
    const boom = await a.request({ type: 'rpc', method: 'boom' });
    expect(boom).toEqual({
      type: 'reply',
      id: expect.any(Number),
      ok: false,
      error: { code: 'internal', message: 'internal error' },
    });
    expect(JSON.stringify(boom)).not.toMatch(/secret|at .*\.ts/);
  });

  it('answers a synchronous result that cannot be encoded with one internal reply, and the next call normally', async () => {
    const server = await startServer();
    server.tether.rpc('big', () => ({ n: 1n }));
    server.tether.rpc('echo', (params) => params);
    const a = await connectAs(server);
    expect(await a.request({ type: 'rpc', method: 'big' })).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(await a.ok({ type: 'rpc', method: 'echo', params: { x: 1 } })).toEqual({ x: 1 });
    expect(a.frames.filter((f) => f.type === 'reply')).toEqual([]);
  });
});

describe('rpc timeout and narrowing claims', () => {
  it('answers timeout when a handler runs past rpcTimeout', async () => {
    const server = await startServer({ rpcTimeout: 100 });
    server.tether.rpc('slow', () => new Promise(() => {}));
    const a = await connectAs(server);
    expect(await a.request({ type: 'rpc', method: 'slow' })).toMatchObject({
      ok: false,
      error: { code: 'timeout' },
    });
  });

  it('ends subscriptions a refreshed token no longer grants with an unsubscribed frame', async () => {
    const server = await startServer();
    const c = await RawClient.connect(server.url, { token: await token('dora', { channels: ['room:*', 'news:*'] }) });
    await c.next('welcome');
    await c.ok({ type: 'subscribe', channel: 'room:a' });
    await c.ok({ type: 'subscribe', channel: 'news:a' });
    await c.ok({ type: 'refresh', token: await token('dora', { channels: ['room:*'] }) });
    expect(await c.next('unsubscribed')).toEqual({ type: 'unsubscribed', channel: 'news:a', reason: 'forbidden' });
    await server.tether.publish('news:a', 'gone');
    await server.tether.publish('room:a', 'kept');
    expect((await c.next('message')).data).toBe('kept');
  });
});

describe('bad input', () => {
  it('answers bad params with bad_request, and frames without a usable id with an error frame', async () => {
    const server = await startServer();
    const a = await connectAs(server);
    expect(await a.request({ type: 'subscribe', channel: '' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(await a.request({ type: 'subscribe', channel: 'room:x', since: { offset: -1 } })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(await a.request({ type: 'publish', channel: 'room:x' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(await a.request({ type: 'launch', target: 'moon' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    a.send({ type: 'subscribe', channel: 'room:x' });
    expect(await a.next('error')).toMatchObject({ error: { code: 'bad_request' } });
    a.ws.send('{not json');
    expect(await a.next('error')).toMatchObject({ error: { code: 'bad_request' } });
    a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    const binaryOnText = (await a.next('error')) as Frame & { error: { message: string } };
    expect(binaryOnText.error.message).toMatch(/binary/);
  });

  it('answers text frames on tether.v1.msgpack with a bad_request error frame', async () => {
    const server = await startServer();
    const m = await connectAs(server, 'packer', { codec: 'msgpack' });
    m.ws.send(JSON.stringify({ type: 'ping', id: 1 }));
    const err = (await m.next('error')) as Frame & { error: { code: string; message: string } };
    expect(err.error.code).toBe('bad_request');
    expect(err.error.message).toMatch(/text/);
    m.send({ type: 'ping', id: 2 });
    expect(await m.next('pong')).toEqual({ type: 'pong', id: 2 });
  });

  it('refuses more subscriptions than maxSubscriptions', async () => {
    const server = await startServer({ limits: { maxSubscriptions: 2 } });
    const a = await connectAs(server);
    await a.ok({ type: 'subscribe', channel: 'room:1' });
    await a.ok({ type: 'subscribe', channel: 'room:2' });
    expect(await a.request({ type: 'subscribe', channel: 'room:3' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    await a.ok({ type: 'unsubscribe', channel: 'room:1' });
    await a.ok({ type: 'subscribe', channel: 'room:3' });
  });
});
