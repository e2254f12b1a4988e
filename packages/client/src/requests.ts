/**
 * Requests and the offline queue: the table of requests awaiting a reply, the bounded outbox of
 * frames waiting for the next open, per-request timeouts, and what a dropped connection does
 * to each request by its kind. Every request settles exactly once. A queued request waits for
 * the connection without a deadline (unless `queueTimeout`): its reply timeout starts when it is
 * written, so a message typed during an outage goes out once the connection is back.
 * @module
 */
import type { Duration, ServerFrame } from '@tether/protocol';
import { NORMAL } from './close-codes.js';
import { DisconnectedError, QueueFullError, ServerError, TimeoutError } from './errors.js';
import { type ResolvedOptions, ms as toMs } from './options.js';

/**
 * What a dropped connection does to a request that was sent:
 * `once` rejects with `DisconnectedError`; `resend` is sent again after the reconnect (publishes:
 * their idempotency key makes that safe); `subscribe` is dropped, as the subscription resubscribes.
 */
export type RequestKind = 'once' | 'resend' | 'subscribe';

type Done = (ok: boolean, value?: unknown) => void;

interface Pending {
  id: number;
  data: Data;
  kind: RequestKind;
  sent: boolean;
  /** The reply timeout (ms) that starts when the request is written. */
  ms: number;
  timer?: ReturnType<typeof setTimeout>;
  done: Done;
}

type Outgoing = Pending | { raw: Data };

/** @internal */
export type Requests = ReturnType<typeof createRequests>;

type Data = string | Uint8Array;

/**
 * @internal
 * @param o `queueMax`, `queueTimeout` and `requestTimeout` are read from it.
 * @param live Open, verified, and the socket writable now.
 * @param closed Stopped for good: new requests reject at once.
 * @param encode Encodes a frame for the current connection.
 * @param write Writes to the current socket.
 */
export function createRequests(
  o: Pick<ResolvedOptions, 'queueMax' | 'queueTimeout' | 'requestTimeout'>,
  live: () => boolean,
  closed: () => boolean,
  encode: (frame: object) => Data,
  write: (data: Data) => void,
) {
  let seq = 0;
  let outbox: Outgoing[] = [];
  const pending = new Map<number, Pending>();

  /** Starts `p`'s deadline: `ms` from now, or none. */
  function arm(p: Pending, ms: number, what: string): void {
    clearTimeout(p.timer);
    if (ms)
      p.timer = setTimeout(() => {
        pending.delete(p.id);
        outbox = outbox.filter((o) => o !== p);
        p.done(false, new TimeoutError(`${what} ${ms} ms`));
      }, ms);
  }

  /** Writes `p` now; its reply timeout starts. */
  function put(p: Pending): void {
    write(p.data);
    p.sent = true;
    arm(p, p.ms, 'no reply within');
  }

  /** `timeout` undefined: the client's `requestTimeout`. */
  function command(body: object, timeout: Duration = o.requestTimeout, kind: RequestKind, done: Done): void {
    if (closed()) {
      done(false, new DisconnectedError(NORMAL, 'client is closed'));
      return;
    }
    const id = ++seq;
    const p: Pending = { id, data: encode({ ...body, id }), kind, sent: false, done, ms: toMs(timeout, 'timeout') };
    // A subscribe is written only while opening or open; it never waits in the outbox.
    if (kind === 'subscribe' || live()) put(p);
    else if (outbox.length >= o.queueMax) {
      done(false, new QueueFullError(o.queueMax));
      return;
    } else {
      outbox.push(p);
      arm(p, o.queueTimeout, 'queued longer than');
    }
    pending.set(id, p);
  }

  return {
    command,

    request: <R>(body: object, timeout?: Duration, kind: RequestKind = 'once'): Promise<R> =>
      new Promise((resolve, reject) => command(body, timeout, kind, (ok, v) => (ok ? resolve(v as R) : reject(v)))),

    /** A raw frame from `send()`: written now, or queued. Returns false when queued. */
    send(data: Data): boolean {
      if (live()) {
        write(data);
        return true;
      }
      if (outbox.length >= o.queueMax) throw new QueueFullError(o.queueMax);
      outbox.push({ raw: data });
      return false;
    },

    /** Settles the request a `reply` or `pong` answers; false for any other frame. */
    receive(f: ServerFrame): boolean {
      if (f.type !== 'reply' && f.type !== 'pong') return false;
      const p = pending.get(f.id as number);
      if (p) {
        pending.delete(p.id);
        clearTimeout(p.timer);
        if (f.type === 'pong') p.done(true);
        else if (f.ok) p.done(true, f.result);
        else p.done(false, new ServerError(f.error.code, f.error.message));
      }
      return true;
    },

    /** After `welcome` (plain: open): resends and the offline queue, in call order. */
    flush(): void {
      for (const o of outbox) {
        if ('raw' in o) write(o.raw);
        else if (pending.get(o.id) === o) put(o);
      }
      outbox = [];
    },

    /** The connection dropped: resend, drop or reject each sent request by its kind. */
    dropped(code: number, reason: string): void {
      const resend: Pending[] = [];
      for (const p of pending.values()) {
        if (!p.sent) continue;
        if (p.kind === 'resend') {
          p.sent = false;
          resend.push(p);
          // Waits for the connection again, as a queued request does.
          arm(p, o.queueTimeout, 'queued longer than');
        } else {
          pending.delete(p.id);
          clearTimeout(p.timer);
          if (p.kind === 'once') p.done(false, new DisconnectedError(code, reason));
        }
      }
      outbox.unshift(...resend);
    },

    /** The client stopped for good: everything still waiting rejects with `err`. */
    fail(err: unknown): void {
      const all = [...pending.values()];
      pending.clear();
      outbox = [];
      for (const p of all) {
        clearTimeout(p.timer);
        if (p.kind !== 'subscribe') p.done(false, err);
      }
    },

    queued: (): number => outbox.length,
  };
}
