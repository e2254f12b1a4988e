/**
 * Who may touch which channel: another user's `user:<id>` channel, namespaces that forbid client
 * (or any) publishing, publish-after-subscribe, a token's `channels` claim — over WebSocket and
 * the HTTP API — and Cross-Site WebSocket Hijacking (a foreign page riding a valid cookie).
 * Another user's chat session is covered by apps/chat/test/responders.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, cleanup, connectAs, RawClient, refusedStatus, startServer, token } from '../helpers.js';

afterEach(cleanup);

const forbidden = { ok: false, error: { code: 'forbidden' } };

describe('user channels', () => {
  it('lets nobody else subscribe to, read the presence of, or publish to user:<id>; not even its owner publishes', async () => {
    const server = await startServer();
    const ann = await connectAs(server, 'ann');
    const bob = await connectAs(server, 'bob');
    expect(await bob.request({ type: 'subscribe', channel: 'user:ann' })).toMatchObject(forbidden);
    expect(await bob.request({ type: 'presence', channel: 'user:ann' })).toMatchObject(forbidden);
    expect(await bob.request({ type: 'publish', channel: 'user:ann', data: 'spoof' })).toMatchObject(forbidden);
    expect((await ann.request({ type: 'subscribe', channel: 'user:ann' })).ok).toBe(true);
    expect(await ann.request({ type: 'publish', channel: 'user:ann', data: 'self' })).toMatchObject(forbidden);
    // Lookalike names are other users, not ann.
    for (const channel of ['user:ann2', 'user:an', 'user:ANN', 'user:ann:x'])
      expect(await ann.request({ type: 'subscribe', channel })).toMatchObject(forbidden);
    // Only server code reaches ann, and only ann hears it.
    await server.tether.publish('user:ann', { secret: 1 });
    expect(await ann.next('message')).toMatchObject({ channel: 'user:ann', data: { secret: 1 } });
    expect(bob.frames.filter((f) => f.type === 'message')).toEqual([]);
  });
});

describe('namespace publish rules', () => {
  it('enforces server-only, nobody and subscribers-only publishing, and the token’s channels claim', async () => {
    const server = await startServer({
      namespaces: { news: { publish: 'server' }, beacon: { publish: 'nobody' }, room: { publish: 'subscribers' } },
    });
    const c = await connectAs(server, 'ann');
    expect((await c.request({ type: 'subscribe', channel: 'news:today' })).ok).toBe(true);
    expect(await c.request({ type: 'publish', channel: 'news:today', data: 1 })).toMatchObject(forbidden);
    expect(await c.request({ type: 'publish', channel: 'beacon:x', data: 1 })).toMatchObject(forbidden);
    await expect(server.tether.publish('beacon:x', 1)).rejects.toMatchObject({ code: 'forbidden' });
    const viaHttp = await fetch(`${server.http}/api/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'beacon:x', data: 1 }),
    });
    expect(viaHttp.status).toBe(403);
    expect(await c.request({ type: 'publish', channel: 'room:a', data: 1 })).toMatchObject(forbidden);
    expect((await c.request({ type: 'subscribe', channel: 'room:a' })).ok).toBe(true);
    expect((await c.request({ type: 'publish', channel: 'room:a', data: 1 })).ok).toBe(true);

    const narrow = await RawClient.connect(server.url, { token: await token('bob', { channels: ['room:a'] }) });
    await narrow.next('welcome');
    expect((await narrow.request({ type: 'subscribe', channel: 'room:a' })).ok).toBe(true);
    expect(await narrow.request({ type: 'subscribe', channel: 'room:b' })).toMatchObject(forbidden);
    expect(await narrow.request({ type: 'publish', channel: 'room:b', data: 1 })).toMatchObject(forbidden);
    expect((await server.tether.history('room:b')).publications).toEqual([]);
  });
});

describe('Cross-Site WebSocket Hijacking', () => {
  it('refuses a foreign Origin even with a valid token cookie, and serves the same origin with it', async () => {
    const server = await startServer();
    const cookie = `token=${await token('ann')}`;
    for (const origin of ['https://evil.example', 'null', `http://127.0.0.1.evil.example:${server.port}`, 'file://'])
      expect((await refusedStatus(server.url, { headers: { cookie, origin } })).status, origin).toBe(403);
    const same = await RawClient.connect(server.url, { headers: { cookie, origin: server.http } });
    expect(await same.next('welcome')).toMatchObject({ user: 'ann' });
    expect(server.tether.connections).toBe(1);
  });

  it('compares the Origin with its scheme: https://host is not the origin of an http server', async () => {
    const server = await startServer();
    const cookie = `token=${await token('ann')}`;
    const origin = `https://127.0.0.1:${server.port}`;
    expect((await refusedStatus(server.url, { headers: { cookie, origin } })).status).toBe(403);
    const listed = await startServer({ allowedOrigins: ['https://app.example'] });
    const wrongScheme = { cookie, origin: 'http://app.example' };
    expect((await refusedStatus(listed.url, { headers: wrongScheme })).status).toBe(403);
    const right = await RawClient.connect(listed.url, { headers: { cookie, origin: 'https://app.example' } });
    expect(await right.next('welcome')).toMatchObject({ user: 'ann' });
  });
});
