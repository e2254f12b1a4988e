/**
 * Failover with the real SDK: a `@tether/client` given both nodes' URLs is subscribed on node A
 * when A is killed with SIGKILL; it reconnects to node B on its own and its application sees
 * every publication exactly once, in order, with no gap reported.
 */

import { waitFor } from '@tether/broker/testing';
import { createClient, type TetherClient } from '@tether/client';
import type { MessageFrame } from '@tether/protocol';
import { deleteKeys, REDIS_URL, redisUnreachable, reportUnreachable } from '@tether/redis/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signToken } from '../src/index.js';
import { closeClients, httpPublish, type NodeProcess, SECRET, startNode, stopNodes } from './fixtures/cluster.js';

const unreachable = await redisUnreachable();
reportUnreachable(unreachable);
const PREFIX = `tether-sdk-failover-test:${Date.now().toString(36)}:`;

let client: TetherClient | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  closeClients();
  await stopNodes();
});
afterAll(async () => {
  if (unreachable === undefined) await deleteKeys(PREFIX);
});

it.skipIf(unreachable !== undefined)(
  'the SDK fails over from a SIGKILLed node to the other and recovers every publication once, in order',
  async () => {
    const env = { NODE_BROKER: 'redis', REDIS_URL, REDIS_PREFIX: PREFIX };
    const [a, b] = (await Promise.all([startNode(env), startNode(env)])) as [NodeProcess, NodeProcess];
    const channel = 'room:sdk-failover';
    const sdk = createClient({
      url: [a.url, b.url],
      token: () => signToken(SECRET, { user: 'ann' }),
      WebSocket,
      reconnect: { initialDelay: 20, maxDelay: 200 },
    });
    client = sdk;
    await sdk.connect();
    const received: MessageFrame[] = [];
    const gaps: unknown[] = [];
    let subscribed = 0;
    const sub = sdk.subscribe(channel, {
      onMessage: (_data, message) => received.push(message),
      onGap: (g) => gaps.push(g),
    });
    sub.on('subscribed', () => {
      subscribed++;
    });
    await waitFor(() => subscribed === 1, 5000, 'the first subscribe');

    const total = 80;
    let acked = 0;
    const publisher = (async () => {
      for (let k = 1; k <= total; k++) {
        const res = await httpPublish(b.http, channel, { k }, `k${k}`);
        expect(res.status).toBe(200);
        acked = k;
      }
    })();
    await waitFor(() => acked >= 20 && received.length >= 10, 5000, 'traffic before the kill');
    await a.kill('SIGKILL');
    await publisher;
    await waitFor(() => received.length === total, 10_000, `all ${total} publications`);
    expect(subscribed).toBeGreaterThanOrEqual(2); // it resubscribed, on node B
    expect(received.map((m) => m.offset)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(received.map((m) => (m.data as { k: number }).k)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(gaps).toEqual([]);
  },
);
