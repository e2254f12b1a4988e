/**
 * 1,000 connect/drop cycles over real sockets: live timers and listeners must not grow, and
 * close() must leave none behind. Timers are counted by wrapping the global timer functions;
 * browser listeners by a counting `globalThis.addEventListener`.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createClient } from '../src/index.js';
import { createFakeServer, type FakeServer } from './fake-server.js';
import { trackTimers } from './track-timers.js';

const g = globalThis as unknown as Record<string, unknown>;
let restoreTimers: (() => void) | undefined;
let server: FakeServer | undefined;

afterEach(async () => {
  restoreTimers?.();
  delete g.addEventListener;
  delete g.removeEventListener;
  await server?.close();
});

it('1,000 connect/drop cycles leave no growing timers or listeners, and close() leaves none', async () => {
  const timers = trackTimers();
  restoreTimers = timers.restore;
  const target = new EventTarget();
  let listeners = 0;
  g.addEventListener = (type: string, fn: () => void) => {
    listeners++;
    target.addEventListener(type, fn);
  };
  g.removeEventListener = (type: string, fn: () => void) => {
    listeners--;
    target.removeEventListener(type, fn);
  };

  // Every connection is welcomed, then dropped as a restarting server would (1012).
  server = await createFakeServer({ onConnection: (conn) => conn.ws.close(1012, 'cycle') });
  const client = createClient({ url: server.url, WebSocket, reconnect: { initialDelay: 0 } });
  const appListeners = () => client.listenerCount();
  client.on('error', () => {});
  const samples: { cycle: number; timers: number; listeners: number; app: number }[] = [];
  const done = new Promise<void>((resolve) => {
    let opens = 0;
    client.on('open', () => {
      opens++;
      if (opens % 100 === 0) samples.push({ cycle: opens, timers: timers.live(), listeners, app: appListeners() });
      if (opens === 1000) resolve();
    });
  });
  await client.connect();
  await done;
  expect(server.accepted).toBeGreaterThanOrEqual(1000);
  const first = samples[0];
  for (const s of samples) {
    expect(s.listeners).toBe(4); // online, offline, visibilitychange, pageshow: added once, never again
    expect(s.app).toBe(first?.app);
    expect(s.timers).toBeLessThanOrEqual((first?.timers ?? 0) + 3);
  }
  client.close();
  expect(listeners).toBe(0);
  const srv = server;
  await vi.waitFor(() => expect(srv.connections.size).toBe(0));
  await srv.close();
  server = undefined;
  // Whatever ws still had in flight (close handshakes) drains; nothing of the client's remains.
  await vi.waitFor(() => expect(timers.live()).toBe(0), { timeout: 5000 });
}, 60_000);
