import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, cleanup, connectAs, RawClient, startServer, type TestServer } from './helpers.js';

afterEach(cleanup);

const auth = { authorization: `Bearer ${API_KEY}` };

function post(server: TestServer, path: string, body: string, headers: Record<string, string> = auth) {
  return fetch(`${server.http}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

describe('POST /api/publish', () => {
  it('publishes to subscribers and answers {offset, epoch}', async () => {
    const server = await startServer();
    const a = await connectAs(server);
    const sub = await a.ok({ type: 'subscribe', channel: 'room:api' });
    const res = await post(
      server,
      '/api/publish',
      JSON.stringify({ channel: 'room:api', data: { text: 'from curl' } }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ offset: 1, epoch: sub.epoch });
    const m = await a.next('message');
    expect(m).toMatchObject({ channel: 'room:api', offset: 1, data: { text: 'from curl' } });
    expect(m.from).toBeUndefined();
  });

  it('publishes to private user channels (server-only for clients)', async () => {
    const server = await startServer();
    const a = await connectAs(server, 'ada');
    await a.ok({ type: 'subscribe', channel: 'user:ada' });
    expect((await post(server, '/api/publish', JSON.stringify({ channel: 'user:ada', data: 1 }))).status).toBe(200);
    expect(await a.next('message')).toMatchObject({ channel: 'user:ada', data: 1 });
  });

  it('answers 401 for a missing or wrong key, 400 for a bad body, 413 for an oversize body', async () => {
    const server = await startServer({ limits: { maxPayload: 1024 } });
    const body = JSON.stringify({ channel: 'room:x', data: 1 });
    const missing = await post(server, '/api/publish', body, {});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await post(server, '/api/publish', body, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(server, '/api/publish', body, { authorization: `Basic ${API_KEY}` })).status).toBe(401);
    for (const bad of [
      '{nope',
      '[]',
      '"x"',
      JSON.stringify({ channel: '', data: 1 }),
      JSON.stringify({ channel: 'room:x' }),
      JSON.stringify({ channel: 'room:x', data: 1, key: 5 }),
    ]) {
      const res = await post(server, '/api/publish', bad);
      expect(res.status, bad).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'bad_request', message: expect.any(String) } });
    }
    const big = await post(server, '/api/publish', JSON.stringify({ channel: 'room:x', data: 'x'.repeat(2000) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: 'too_large' } });
  });

  it('answers 403 for a namespace nobody may publish to', async () => {
    const server = await startServer({ namespaces: { ro: { publish: 'nobody' } } });
    const res = await post(server, '/api/publish', JSON.stringify({ channel: 'ro:x', data: 1 }));
    expect(res.status).toBe(403);
  });

  it('answers 401 to everything when no API key is configured', async () => {
    const server = await startServer({ apiKey: undefined });
    expect((await post(server, '/api/publish', JSON.stringify({ channel: 'room:x', data: 1 }))).status).toBe(401);
  });
});

describe('GET /api/history and /api/presence', () => {
  it('returns history since an offset with a limit, and the presence list', async () => {
    const server = await startServer();
    for (let i = 1; i <= 5; i++) await server.tether.publish('room:h', i);
    const res = await fetch(`${server.http}/api/history?channel=room:h&since=1&limit=2`, { headers: auth });
    expect(res.status).toBe(200);
    const h = (await res.json()) as {
      epoch: string;
      offset: number;
      publications: { offset: number; data: unknown }[];
    };
    expect(h.offset).toBe(5);
    expect(h.publications.map((p) => [p.offset, p.data])).toEqual([
      [2, 2],
      [3, 3],
    ]);
    expect(h.epoch).toEqual(expect.any(String));
    expect((await fetch(`${server.http}/api/history?channel=room:h`)).status).toBe(401);
    expect((await fetch(`${server.http}/api/history?channel=`, { headers: auth })).status).toBe(400);
    expect((await fetch(`${server.http}/api/history?channel=room:h&since=-3`, { headers: auth })).status).toBe(400);

    const a = await connectAs(server, 'pat');
    await a.ok({ type: 'subscribe', channel: 'room:h' });
    await a.next('presence_diff');
    const p = await fetch(`${server.http}/api/presence?channel=room:h`, { headers: auth });
    expect(await p.json()).toEqual({ clients: [{ user: 'pat', connectionId: expect.any(String) }] });
    expect((await fetch(`${server.http}/api/presence?channel=room:h`)).status).toBe(401);
  });
});

describe('probes, metrics and routing', () => {
  it('serves /healthz, /readyz and Prometheus metrics', async () => {
    const server = await startServer();
    const a = await connectAs(server);
    await a.ok({ type: 'subscribe', channel: 'room:m' });
    await server.tether.publish('room:m', 1);
    await a.next('message');
    expect(await (await fetch(`${server.http}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${server.http}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${server.http}/metrics`)).text();
    for (const name of [
      'tether_connections 1',
      'tether_subscriptions 1',
      'tether_publications_total{source="server"} 1',
      'tether_frames_in_total',
      'tether_frames_out_total',
      'tether_bytes_in_total',
      'tether_bytes_out_total',
      'tether_publish_latency_seconds_count 1',
      'tether_disconnects_total',
    ])
      expect(text).toContain(name);
  });

  it('answers 404 for unknown routes and upgrade paths, and hands other requests to onRequest', async () => {
    const server = await startServer({
      onRequest: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('app');
      },
    });
    expect((await fetch(`${server.http}/api/nope`)).status).toBe(404);
    expect(await (await fetch(`${server.http}/index.html`)).text()).toBe('app');
  });
});

describe('development login', () => {
  it('issues tokens the WebSocket endpoint accepts, only when enabled', async () => {
    const off = await startServer();
    // Off, the route does not exist: the API's 404, not a refusal that hints it is there.
    const absent = await post(off, '/api/dev/login', JSON.stringify({ user: 'dev' }), {});
    expect(absent.status).toBe(404);
    expect(await absent.json()).toMatchObject({ error: { code: 'not_found' } });
    const server = await startServer({ devLogin: true });
    const bad = await post(server, '/api/dev/login', JSON.stringify({ nobody: 1 }), {});
    expect(bad.status).toBe(400);
    const res = await post(server, '/api/dev/login', JSON.stringify({ user: 'dev', info: { name: 'Dev' } }), {});
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    const c = await RawClient.connect(`${server.url}?token=${token}`);
    expect(await c.next('welcome')).toMatchObject({ user: 'dev' });
  });
});
