/**
 * The health check of the Redis connections. node-redis only notices a connection that closes;
 * a silent one (a partition, a half-open link: no FIN, no RST) looks ready for ever while every
 * command waits on it. So every `interval` each ready connection gets a PING, and one that has
 * not answered within `timeout` counts as lost: the broker then reports itself unavailable and
 * replaces its connections.
 * @module
 */
import type { Client } from './connection.js';

/** Resolves like `p`, or rejects with `Error(message)` after `ms`. Never leaves a timer behind. */
export function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
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
