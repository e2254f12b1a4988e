/**
 * Draining: how `close()` lets connections go — the node is unready for `delay` while it keeps
 * serving, then every client gets 1012 in batches spread over `spread`, then the stragglers are
 * cut at the deadline. {@link drainPlan} is the arithmetic, {@link closeConnections} runs it.
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { CloseCode } from '@tether/protocol';
import type { Session } from './session.js';

export const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Batches are at least this far apart (ms)... */
export const MIN_BATCH_INTERVAL = 100;
/** ...and hold at least this many clients (a small node is drained in fewer batches, sooner). */
export const MIN_BATCH_SIZE = 10;

/** When and how `close()` lets its clients go, all times in ms from the start of the drain. */
export interface DrainPlan {
  /** Serving while unready, before the first batch: the delay, at most half the deadline. */
  delay: number;
  /** First to last batch: the spread, at most half of what the deadline leaves after the delay. */
  spread: number;
  /** Number of batches (0 without clients). */
  batches: number;
  /** Time between two batches (0 with one batch). */
  interval: number;
}

/**
 * The drain of `clients` connections within `deadline`: batches of at least
 * {@link MIN_BATCH_SIZE} clients, at least {@link MIN_BATCH_INTERVAL} apart, the first at `delay`
 * and the last at `delay + spread`. Whatever does not fit the deadline is shortened, the spread
 * first; half of what follows the delay is always left for the close handshakes.
 */
export function drainPlan(clients: number, o: { deadline: number; delay: number; spread: number }): DrainPlan {
  const wait = Math.max(0, Math.min(o.delay, o.deadline / 2));
  const window = Math.max(0, Math.min(o.spread, (o.deadline - wait) / 2));
  if (clients <= 0) return { delay: wait, spread: window, batches: 0, interval: 0 };
  const batches = Math.max(
    1,
    Math.min(Math.ceil(clients / MIN_BATCH_SIZE), Math.floor(window / MIN_BATCH_INTERVAL) + 1),
  );
  return { delay: wait, spread: window, batches, interval: batches > 1 ? window / (batches - 1) : 0 };
}

/** Clients `[start, end)` of batch `i` of `batches` over `clients`: sizes differ by at most one. */
export function batchRange(i: number, batches: number, clients: number): [number, number] {
  return [Math.floor((i * clients) / batches), Math.floor(((i + 1) * clients) / batches)];
}

/** What `closeConnections` did, for the log. */
export interface DrainReport {
  plan: DrainPlan;
  /** Clients closed in each batch. */
  sizes: number[];
  /** Clients still open at the deadline, terminated. */
  terminated: number;
}

/**
 * Drains every connection in `sessions` within `o.deadline` ms (counted from `start`, ms since the
 * epoch). `emptied` resolves once `sessions` is empty (each connection leaves it when its socket
 * closed). The set is read after the delay: connections that closed meanwhile are not counted.
 */
export async function closeConnections(
  sessions: ReadonlySet<Session>,
  start: number,
  o: { deadline: number; delay: number; spread: number },
  emptied: () => Promise<void>,
): Promise<DrainReport> {
  const end = start + o.deadline;
  const at = (t: number): Promise<void> => delay(Math.max(0, start + t - Date.now()));
  const { delay: wait } = drainPlan(0, o);
  if (wait > 0) await at(wait);
  const all = [...sessions];
  const plan = drainPlan(all.length, o);
  const sizes: number[] = [];
  for (let i = 0; i < plan.batches; i++) {
    // Each batch at its own time from the start, so timer lateness does not add up.
    if (i > 0) await at(plan.delay + i * plan.interval);
    const [from, to] = batchRange(i, plan.batches, all.length);
    for (const s of all.slice(from, to)) s.close(CloseCode.SERVICE_RESTART, 'server restarting');
    sizes.push(to - from);
  }
  const report: DrainReport = { plan, sizes, terminated: 0 };
  // Let the close handshakes (and the bytes queued before them) finish, then cut stragglers.
  if (sessions.size === 0) return report;
  await Promise.race([emptied(), delay(Math.max(0, end - Date.now()))]);
  report.terminated = sessions.size;
  if (sessions.size === 0) return report;
  for (const s of sessions) s.ws.terminate();
  // terminate() destroys the socket; its 'close' (and our bookkeeping) follows within a tick or two.
  await Promise.race([emptied(), delay(1_000)]);
  return report;
}

/** How often a closing HTTP server looks for connections that fell idle (ms). */
const IDLE_CHECK = 50;

/**
 * Stops `server` listening. Its keep-alive connections would carry requests until their timeout
 * (a busy publisher's, for ever): each request that arrives from now on is answered with
 * `Connection: close`, each connection is closed as soon as it falls idle, and whatever is left
 * at `end` is cut. Requests already being answered are answered.
 */
export function closeHttpServer(server: Server, end: number): Promise<void> {
  const last = (_req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('connection', 'close');
  };
  server.prependListener('request', last);
  const idle = setInterval(() => server.closeIdleConnections(), IDLE_CHECK);
  const cut = setTimeout(() => server.closeAllConnections(), Math.max(0, end - Date.now()));
  return new Promise<void>((resolve) => {
    server.close(() => {
      clearInterval(idle);
      clearTimeout(cut);
      server.off('request', last);
      resolve();
    });
    server.closeIdleConnections();
  });
}
