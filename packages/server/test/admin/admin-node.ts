/**
 * A second Tether node with the admin side on (no page) and the Redis broker, run as its own
 * process so a test can SIGKILL it:
 *   node --conditions=source --import tsx admin-node.ts
 * Environment: REDIS_URL, REDIS_PREFIX, JWT_SECRET, API_KEY, ADMIN_LEASE (ms). Listens on
 * 127.0.0.1 and a free port, then prints `{"port":<port>,"node":"<admin node id>"}`.
 */
import { createRedisBroker } from '@tether/redis';
import { createServer } from '../../src/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new TypeError(`admin-node: ${name} must be set`);
  return value;
};

const tether = createServer({
  host: '127.0.0.1',
  port: 0,
  logLevel: 'silent',
  auth: { jwtSecret: env('JWT_SECRET') },
  apiKey: env('API_KEY'),
  broker: createRedisBroker({ url: env('REDIS_URL'), prefix: env('REDIS_PREFIX') }),
  admin: { page: false, interval: 200, lease: Number(env('ADMIN_LEASE')) },
});
const { port } = await tether.listen();
const nodes = (await (
  await fetch(`http://127.0.0.1:${port}/api/admin/session`, { headers: { authorization: `Bearer ${env('API_KEY')}` } })
).json()) as { node: { id: string } };
process.stdout.write(`${JSON.stringify({ port, node: nodes.node.id })}\n`);
