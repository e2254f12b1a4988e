/**
 * Draining: how `close()` lets connections go — after an optional unready delay, 1012 to every
 * client in batches, then the stragglers are cut at the deadline.
 * @module
 */
import type { Server } from 'node:http';
import { CloseCode } from '@tether/protocol';
import type { Session } from './session.js';

export const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * Closes every connection in `sessions` by `end` (ms since the epoch). `emptied` resolves once
 * `sessions` is empty (each connection leaves it when its socket closed).
 */
export async function closeConnections(
  sessions: ReadonlySet<Session>,
  end: number,
  drainDelay: number,
  emptied: () => Promise<void>,
): Promise<void> {
  if (drainDelay > 0) await delay(Math.min(drainDelay, (end - Date.now()) / 2));
  // Close in batches of 10 %, spread over at most half the deadline, so clients do not all
  // reconnect to the other nodes in the same instant.
  const all = [...sessions];
  const batches = Math.min(10, all.length);
  const tick = batches > 1 ? Math.min(100, Math.max(1, (end - Date.now()) / 2 / batches)) : 0;
  const size = Math.ceil(all.length / Math.max(1, batches));
  for (let i = 0; i < all.length; i += size) {
    for (const s of all.slice(i, i + size)) s.close(CloseCode.SERVICE_RESTART, 'server restarting');
    if (i + size < all.length) await delay(tick);
  }
  // Let the close handshakes (and the bytes queued before them) finish, then cut stragglers.
  if (sessions.size === 0) return;
  await Promise.race([emptied(), delay(Math.max(0, end - Date.now()))]);
  if (sessions.size === 0) return;
  for (const s of sessions) s.ws.terminate();
  // terminate() destroys the socket; its 'close' (and our bookkeeping) follows within a tick or two.
  await Promise.race([emptied(), delay(1_000)]);
}

/** Stops `server` listening; keep-alive HTTP clients get until `end`, then their sockets are cut too. */
export function closeHttpServer(server: Server, end: number): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), Math.max(0, end - Date.now())).unref();
  });
}
