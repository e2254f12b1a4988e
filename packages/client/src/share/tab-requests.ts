/**
 * A tab's requests to the hub: each waits (boundedly) until there is a hub, is answered by id, and
 * when the hub goes away before answering, a publish is asked again of the next hub (its key makes
 * that safe) while anything else rejects, as on a dropped connection.
 * @module
 */
import { NORMAL } from '../close-codes.js';
import { DisconnectedError, QueueFullError } from '../errors.js';
import type { HubRequest, TabMessage } from './messages.js';

interface Pending {
  r: HubRequest;
  sent: boolean;
  ok: (v: unknown) => void;
  no: (e: unknown) => void;
}

/**
 * @internal
 * @param ready A hub has met this tab: a request can go now.
 * @param closed The tab's client is closed: a request rejects at once.
 */
export function createTabRequests(
  queueMax: number,
  post: (m: TabMessage) => void,
  ready: () => boolean,
  closed: () => boolean,
) {
  const pending = new Map<number, Pending>();
  let seq = 0;
  return {
    request<R>(r: HubRequest): Promise<R> {
      if (closed()) return Promise.reject(new DisconnectedError(NORMAL, 'client is closed'));
      const now = ready();
      if (!now && pending.size >= queueMax) return Promise.reject(new QueueFullError(queueMax));
      const id = ++seq;
      return new Promise<R>((ok, no) => {
        pending.set(id, { r, sent: now, ok: ok as (v: unknown) => void, no });
        if (now) post({ t: 'req', id, r });
      });
    },
    /** A hub met this tab: what waited goes now. */
    flush(): void {
      for (const [id, p] of pending)
        if (!p.sent) {
          p.sent = true;
          post({ t: 'req', id, r: p.r });
        }
    },
    answer(id: number, ok: boolean, v: unknown, err: () => unknown): void {
      const p = pending.get(id);
      pending.delete(id);
      if (ok) p?.ok(v);
      else p?.no(err());
    },
    /** The hub went away. */
    dropped(err: unknown): void {
      for (const [id, p] of pending)
        if (p.r.k === 'publish') p.sent = false;
        else if (p.sent) {
          pending.delete(id);
          p.no(err);
        }
    },
    /** The tab stopped for good. */
    fail(err: unknown): void {
      for (const p of pending.values()) p.no(err);
      pending.clear();
    },
    waiting: (): number => [...pending.values()].filter((p) => !p.sent).length,
  };
}
