// An idle connection must hold no timer of its own (issue 15: memory per connection). Counted
// with Node's active-resource list over real loopback connections, never timed.
import { afterEach, expect, it } from 'vitest';
import { API_KEY, cleanup, connectAs, RawClient, startServer, token } from './helpers.js';

afterEach(cleanup);

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

it('50 idle connections with expiring tokens add at most a couple of timers, not one or more each', async () => {
  const server = await startServer({ heartbeat: { interval: 5_000, timeout: 5_000 } });
  await connectAs(server, 'first');
  const before = timers();
  // Tokens expiring in the same second share one expiry timer.
  const t = await token('idle', { expiresIn: 600 });
  const clients = await Promise.all(Array.from({ length: 50 }, () => RawClient.connect(server.url, { token: t })));
  await Promise.all(clients.map((c) => c.next('welcome')));
  expect(server.tether.connections).toBe(51);
  expect(timers() - before).toBeLessThanOrEqual(3);
});

it('connections sharing an expiry instant: one leaving early still lets the rest close with 4001 then', async () => {
  const server = await startServer();
  // One token, so all three expire in the same second and share one timer (a count, no set).
  const t = await token('shared-exp', { expiresIn: 2 });
  const [early, a, b] = await Promise.all([0, 1, 2].map(() => RawClient.connect(server.url, { token: t })));
  const welcomes = await Promise.all([early, a, b].map((c) => (c as RawClient).next('welcome')));
  (early as RawClient).close();
  await (early as RawClient).closed;
  const closes = await Promise.all([a, b].map((c) => (c as RawClient).closed));
  expect(closes.map((c) => c.code)).toEqual([4001, 4001]);
  expect(Date.now()).toBeGreaterThanOrEqual((welcomes[0]?.expiresAt as number) - 50);
});

it('reports the peer address of an open connection, read from its socket when asked', async () => {
  const server = await startServer({ admin: { page: false } });
  await connectAs(server, 'addr');
  const res = await fetch(`${server.http}/api/admin/connections`, { headers: { authorization: `Bearer ${API_KEY}` } });
  const body = (await res.json()) as { connections: { user: string; address: string }[] };
  expect(body.connections.map((c) => [c.user, c.address])).toEqual([['addr', '127.0.0.1']]);
});
