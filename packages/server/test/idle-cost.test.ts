// An idle connection must hold no timer of its own (issue 15: memory per connection). Counted
// with Node's active-resource list over real loopback connections, never timed.
import { afterEach, expect, it } from 'vitest';
import { cleanup, connectAs, RawClient, startServer, token } from './helpers.js';

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
