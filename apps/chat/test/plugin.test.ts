/**
 * `tether serve --plugin`: the CLI loads the chat responders module, applies its `namespaces`
 * and runs its `setup(tether)` before listening.
 */
import { createClient, type TetherClient } from '@tether/client';
import type { TetherServer } from '@tether/server';
import { afterEach, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { main } from '../../../packages/server/src/cli.js';

let tether: TetherServer | undefined;
let client: TetherClient | undefined;
// main() installs SIGTERM/SIGINT handlers; remove exactly those afterwards.
const before = { SIGTERM: process.listeners('SIGTERM'), SIGINT: process.listeners('SIGINT') };

afterEach(async () => {
  client?.close();
  await tether?.close({ deadline: 1000 });
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    for (const listener of process.listeners(signal))
      if (!before[signal].includes(listener)) process.off(signal, listener);
});

it('serves the chat RPC methods and the chat namespace policy from the plugin module', async () => {
  const plugin = new URL('../server/responders.ts', import.meta.url).pathname;
  tether = await main([
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--broker',
    'memory',
    '--jwt-secret',
    'plugin-test-secret-of-a-decent-length-0123456789',
    '--log-level',
    'silent',
    '--plugin',
    plugin,
  ]);
  expect(tether).toBeDefined();
  const address = tether?.httpServer.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const { signToken } = await import('@tether/server');
  client = createClient({
    url: `ws://127.0.0.1:${port}/ws`,
    token: () => signToken('plugin-test-secret-of-a-decent-length-0123456789', { user: 'ann' }),
    WebSocket,
  });
  await client.connect();
  await expect(client.rpc('chat.history', { sessionId: 'x' })).resolves.toEqual({ messages: [] });
  // `chat: { publish: 'server' }` from the plugin's namespaces: a client may not publish replies.
  const sub = client.subscribe('chat:x');
  await sub.ready;
  await expect(sub.publish({ forged: true })).rejects.toMatchObject({ code: 'forbidden' });
});
