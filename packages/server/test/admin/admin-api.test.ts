/**
 * The admin side without a browser: who may use it (401/403 otherwise), the stats channel's
 * figures, and the operator actions over the HTTP API against real sockets.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryBroker, signToken } from '@tether/server';
import { afterEach, describe, expect, it } from 'vitest';
import { STATS_CHANNEL } from '../../src/admin/index.js';
import {
  API_KEY,
  cleanup,
  connectAs,
  RawClient,
  refusedStatus,
  SECRET,
  startServer,
  type TestServer,
  token,
  waitFor,
} from '../helpers.js';

afterEach(cleanup);

const adminServer = (extra = {}) => startServer({ admin: { page: false, interval: 100 }, ...extra });
const adminToken = () => signToken(SECRET, { user: 'ops', admin: true });

async function api(s: TestServer, path: string, init: RequestInit & { auth?: string } = {}) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...(init.headers as Record<string, string> | undefined),
  };
  if (init.auth !== undefined) headers.authorization = `Bearer ${init.auth}`;
  const res = await fetch(`${s.http}${path}`, { ...init, headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('admin access', () => {
  it('refuses the API without an operator, and a normal token on it', async () => {
    const s = await adminServer();
    expect((await api(s, '/api/admin/connections')).status).toBe(401);
    expect((await api(s, '/api/admin/nodes', { auth: await token('alice') })).status).toBe(401);
    expect((await api(s, '/api/admin/nodes', { auth: 'wrong-key' })).status).toBe(401);
    const r = await api(s, '/api/admin/disconnect', { method: 'POST', body: '{"user":"alice"}' });
    expect(r.status).toBe(401);
    expect((await api(s, '/api/admin/nodes', { auth: API_KEY })).status).toBe(200);
    expect((await api(s, '/api/admin/nodes', { auth: await adminToken() })).status).toBe(200);
  });

  it("refuses the admin channel to a normal user's token and to an admin upgrade without a session", async () => {
    const s = await adminServer();
    const alice = await connectAs(s, 'alice');
    const reply = await alice.request({ type: 'subscribe', channel: STATS_CHANNEL });
    expect(reply.ok).toBe(false);
    expect((reply.error as { code: string }).code).toBe('forbidden');
    expect((await refusedStatus(`${s.url}?admin=1`, { protocols: ['tether.v1'] })).status).toBe(401);
    expect(
      (
        await refusedStatus(`${s.url}?admin=1`, {
          protocols: ['tether.v1'],
          headers: { cookie: 'tether_admin=k.9999999999999.AAAA' },
        })
      ).status,
    ).toBe(401);
  });

  it('serves no page when admin.page is false, refuses a page folder without index.html, and refuses to start with no way to authenticate', async () => {
    const s = await adminServer();
    expect((await fetch(`${s.http}/admin/`)).status).toBe(404);
    await expect(
      startServer({ admin: { page: false }, apiKey: undefined, auth: { authenticate: () => ({ user: 'x' }) } }),
    ).rejects.toThrow(/no way to authenticate operators/);
    const empty = await mkdtemp(join(tmpdir(), 'tether-admin-empty-'));
    await expect(startServer({ admin: { page: empty } })).rejects.toThrow(/admin.page: no index.html in/);
  });

  it('logs in with the API key at /admin/login; the cookie opens the page and the admin socket', async () => {
    const page = await mkdtemp(join(tmpdir(), 'tether-admin-page-'));
    await writeFile(join(page, 'index.html'), '<!doctype html><title>the page</title>');
    const s = await startServer({ admin: { page, interval: 100 } });
    const anonymous = await fetch(`${s.http}/admin/`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).toContain('data-testid="admin-key"');
    expect((await fetch(`${s.http}/admin/index.html`)).status).toBe(401);
    const bad = await fetch(`${s.http}/admin/login`, { method: 'POST', body: 'key=nope', redirect: 'manual' });
    expect(bad.status).toBe(401);
    const ok = await fetch(`${s.http}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `key=${API_KEY}`,
      redirect: 'manual',
    });
    expect(ok.status).toBe(303);
    const cookie = (ok.headers.get('set-cookie') ?? '').split(';')[0] as string;
    expect(cookie).toMatch(/^tether_admin=k\./);
    const served = await fetch(`${s.http}/admin/`, { headers: { cookie } });
    expect(served.status).toBe(200);
    expect(served.headers.get('x-frame-options')).toBe('DENY');
    expect(served.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    expect(await served.text()).toContain('the page');
    expect((await api(s, '/api/admin/session', { headers: { cookie } } as RequestInit)).status).toBe(200);
    const ws = await RawClient.connect(`${s.url}?admin=1`, { headers: { cookie } });
    expect((await ws.next('welcome')).user).toBe('admin');
    expect((await ws.request({ type: 'subscribe', channel: STATS_CHANNEL })).ok).toBe(true);
  });
});

describe('admin figures and actions', () => {
  it('publishes snapshots while watched: connections, publication rate, latency', async () => {
    const s = await adminServer();
    const ops = await connectAs(s, 'ops', { token: await adminToken() });
    expect((await ops.request({ type: 'subscribe', channel: STATS_CHANNEL })).ok).toBe(true);
    const alice = await connectAs(s, 'alice');
    expect((await alice.request({ type: 'subscribe', channel: 'room:a' })).ok).toBe(true);
    let seen: Record<string, unknown> | undefined;
    for (let i = 0; i < 20 && !seen; i++) {
      for (let j = 0; j < 5; j++) await alice.request({ type: 'publish', channel: 'room:a', data: { i, j } });
      const frame = await ops.next('message', 1_000);
      const snap = frame.data as { rates: { publicationsIn: number } | null; latency: unknown } | undefined;
      if (snap?.rates && snap.rates.publicationsIn > 0 && snap.latency) seen = snap as Record<string, unknown>;
    }
    expect(seen).toBeDefined();
    const snap = seen as { connections: number; connectionList: { rows: { user: string }[] }; nodes?: unknown[] };
    expect(snap.connections).toBe(2);
    expect(snap.connectionList.rows.map((r) => r.user).sort()).toEqual(['alice', 'ops']);
    expect(snap.nodes).toHaveLength(1);
  });

  it('disconnects with 1008 and refuses the user until the period ends', async () => {
    const s = await adminServer();
    const bob = await connectAs(s, 'bob');
    const r = await api(s, '/api/admin/disconnect', {
      method: 'POST',
      auth: API_KEY,
      body: JSON.stringify({ user: 'bob', refuseFor: 800 }),
    });
    expect(r).toEqual({ status: 200, body: { disconnected: 1 } });
    expect((await bob.closed).code).toBe(1008);
    const refused = await refusedStatus(`${s.url}?token=${await token('bob')}`, { protocols: ['tether.v1'] });
    expect(refused.status).toBe(403);
    await waitFor(async () => {
      const again = await RawClient.connect(`${s.url}?token=${await token('bob')}`).catch(() => undefined);
      again?.close();
      return again !== undefined;
    }, 3_000);
    const list = await api(s, '/api/admin/connections', { auth: API_KEY });
    expect(list.status).toBe(200);
  });

  it('costs nothing while nobody watches: no snapshot is published before or after a watcher', async () => {
    const broker = createMemoryBroker();
    const stats: number[] = [];
    const publish = broker.publish.bind(broker);
    broker.publish = (channel, data, o) => {
      if (channel === STATS_CHANNEL) stats.push(Date.now());
      return publish(channel, data, o);
    };
    const s = await adminServer({ broker });
    const ops = await connectAs(s, 'ops', { token: await adminToken() });
    // A window of five intervals with no watcher (a measured period, not a wait for an event).
    await new Promise((r) => setTimeout(r, 500));
    expect(stats).toHaveLength(0);
    expect((await ops.request({ type: 'subscribe', channel: STATS_CHANNEL })).ok).toBe(true);
    await ops.next('message', 1_000);
    expect((await ops.request({ type: 'unsubscribe', channel: STATS_CHANNEL })).ok).toBe(true);
    const after = stats.length;
    await new Promise((r) => setTimeout(r, 500));
    // At most the one tick that was already under way when the watcher left.
    expect(stats.length - after).toBeLessThanOrEqual(1);
  });

  it('keeps the admin namespace out of the channel list and away from publishers', async () => {
    const s = await adminServer();
    const ops = await connectAs(s, 'ops', { token: await adminToken() });
    expect((await ops.request({ type: 'subscribe', channel: STATS_CHANNEL })).ok).toBe(true);
    const alice = await connectAs(s, 'alice');
    expect((await alice.request({ type: 'subscribe', channel: 'room:x' })).ok).toBe(true);
    const list = await api(s, '/api/admin/channels', { auth: API_KEY });
    expect((list.body.channels as { channel: string }[]).map((c) => c.channel)).toEqual(['room:x']);
    const forged = await api(s, '/api/admin/publish', {
      method: 'POST',
      auth: API_KEY,
      body: JSON.stringify({ channel: 'tether-admin:control', data: { op: 'disconnect', node: 'x', user: 'alice' } }),
    });
    expect(forged.status).toBe(403);
    for (const channel of [STATS_CHANNEL, 'tether-admin:control']) {
      const reply = await alice.request({ type: 'publish', channel, data: { op: 'disconnect', user: 'ops' } });
      expect(reply.ok).toBe(false);
    }
    // Not even an operator's connection subscribes to the control channel.
    expect((await ops.request({ type: 'subscribe', channel: 'tether-admin:control' })).ok).toBe(false);
    const test = await api(s, '/api/admin/publish', {
      method: 'POST',
      auth: API_KEY,
      body: JSON.stringify({ channel: 'room:x', data: { hello: 1 } }),
    });
    expect(test.status).toBe(200);
    expect((await alice.next('message')).data).toEqual({ hello: 1 });
  });

  it('reads its figures from the metrics /metrics renders (no second bookkeeping)', async () => {
    const s = await adminServer();
    const ops = await connectAs(s, 'ops', { token: await adminToken() });
    const alice = await connectAs(s, 'alice');
    expect((await alice.request({ type: 'subscribe', channel: 'room:m' })).ok).toBe(true);
    for (let i = 0; i < 7; i++)
      expect((await alice.request({ type: 'publish', channel: 'room:m', data: i })).ok).toBe(true);
    await api(s, '/api/admin/publish', { method: 'POST', auth: API_KEY, body: '{"channel":"room:m","data":"x"}' });
    expect((await ops.request({ type: 'subscribe', channel: STATS_CHANNEL })).ok).toBe(true);
    const snap = (await ops.next('message', 1_000)).data as { totals: Record<string, number>; subscriptions: number };
    const text = await (await fetch(`${s.http}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
    const total = (name: string): number =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(snap.totals.publications).toBe(8);
    expect(total('tether_publications_total')).toBe(snap.totals.publications);
    expect(total('tether_connections_total')).toBe(snap.totals.connectionsAccepted);
    expect(total('tether_subscriptions')).toBe(snap.subscriptions);
  });
});
