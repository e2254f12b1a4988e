/**
 * The health check of the Redis connections. node-redis only notices a connection that closes;
 * a silent one (a partition, a half-open link: no FIN, no RST) looks ready for ever while every
 * command waits on it. So every `interval` each ready connection gets a PING, and one that has
 * not answered within `timeout` counts as lost: the broker then reports itself unavailable and
 * replaces its connections.
 * @module
 */
import type { Client } from './connection.js';

/**
 * Resolves like `p`, or rejects with `Error(message)` after `ms`. A stalled event loop must not
 * pass for a silent Redis: when the timer fires, the reply may already sit unread behind it, so
 * the verdict waits one turn of the loop (`setImmediate` runs after pending I/O is read).
 */
export function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          settled = true;
          reject(new Error(message));
        }),
      ms,
    );
    timer.unref();
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    p.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}

/** Drops a connection for good, whatever state it is in. */
export function discard(client: Client | undefined): void {
  if (!client) return;
  try {
    client.destroy();
  } catch {
    // Already closed.
  }
}

/**
 * Pings the connections `clients()` returns every `interval` ms (one round at a time) and calls
 * `lost(pinged)` when a ready one does not answer within `timeout` ms. A PING that fails fast (the
 * connection closed, node-redis is reconnecting it) is node-redis's business, not a loss.
 * Returns the function that stops it.
 */
export function startHealthCheck(o: {
  interval: number;
  timeout: number;
  clients: () => Array<Client | undefined>;
  /** Gets the connections pinged in the failed round (the broker may have replaced them since). */
  lost: (pinged: Client[]) => void;
}): () => void {
  let busy = false;
  const round = async (): Promise<void> => {
    const ready = o.clients().filter((c): c is Client => c?.isReady === true);
    const answered = await Promise.all(
      ready.map((c) =>
        within(
          c.ping().catch(() => 'closed'),
          o.timeout,
          'no PONG',
        ).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (answered.includes(false)) o.lost(ready);
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    round().finally(() => {
      busy = false;
    });
  }, o.interval);
  timer.unref();
  return () => clearInterval(timer);
}
