// When a fan-out holds writes back: a tick's first fan-out writes at once (a lone publication
// waits for nothing), a second one in the same tick corks each socket until the tick ends, and
// the frames arrive in order either way. Real sockets on loopback; only the sessions are thin.
import type { AddressInfo } from 'node:net';
import { jsonCodec } from '@tether/protocol';
import { afterEach, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { EncodedFrame, fanOut } from './encoded.js';
import { createMetrics } from './metrics.js';
import type { Session } from './session.js';
import { socketOf } from './ws-socket.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** `n` server-side sockets, each with the client end's received messages. */
async function pairs(n: number) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  closers.push(() => wss.close());
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const out: { server: WebSocket; received: string[]; got: (count: number) => Promise<void> }[] = [];
  for (let i = 0; i < n; i++) {
    const accepted = new Promise<WebSocket>((r) => wss.once('connection', r));
    const client = new WebSocket(url);
    closers.push(() => client.terminate());
    const received: string[] = [];
    client.on('message', (data) => received.push(String(data)));
    /** Resolves once `count` messages are in (each arrival re-checks), failing after 5 s. */
    const got = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${received.length} of ${count} messages`)), 5_000);
        const check = () => {
          if (received.length < count) return;
          clearTimeout(timer);
          client.off('message', check);
          resolve();
        };
        client.on('message', check);
        check();
      });
    await new Promise((r) => client.once('open', r));
    out.push({ server: await accepted, received, got });
  }
  return out;
}

/** The part of a Session a fan-out uses, writing to a real socket. */
const sessionOn = (ws: WebSocket): Session =>
  ({
    codec: jsonCodec,
    ws,
    write: (data: Uint8Array) => {
      ws.send(data);
      return true;
    },
  }) as unknown as Session;

const corked = (ws: WebSocket): number | undefined => socketOf(ws)?.writableCorked;
const nextTick = () => new Promise<void>((r) => process.nextTick(r));

it('writes a lone fan-out at once and corks from the second in a tick until the tick ends', async () => {
  const peers = await pairs(2);
  const sessions = peers.map((p) => sessionOn(p.server));
  const metrics = createMetrics();

  expect(fanOut(sessions, new EncodedFrame({ n: 1 }), metrics)).toBe(2);
  expect(peers.map((p) => corked(p.server))).toEqual([0, 0]);
  fanOut(sessions, new EncodedFrame({ n: 2 }), metrics);
  fanOut(sessions, new EncodedFrame({ n: 3 }), metrics);
  expect(peers.map((p) => corked(p.server))).toEqual([1, 1]);

  await nextTick();
  expect(peers.map((p) => corked(p.server))).toEqual([0, 0]);
  // The next tick starts afresh: its first fan-out is not held back.
  fanOut(sessions, new EncodedFrame({ n: 4 }), metrics);
  expect(peers.map((p) => corked(p.server))).toEqual([0, 0]);

  await Promise.all(peers.map((p) => p.got(4)));
  for (const p of peers) expect(p.received).toEqual(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}']);
  expect((await metrics.registry.getSingleMetric('tether_frames_out_total')?.get())?.values[0]?.value).toBe(8);
});
