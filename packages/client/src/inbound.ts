/**
 * What each arriving frame does: before the welcome, whether the server speaks Tether at all;
 * then `welcome`, the server's `ping` (answered, and used to measure the round trip), replies,
 * `error` frames, channel frames, and everything else to `message` listeners.
 * @module
 */
import { isServerFrame, type ServerFrame, type WelcomeFrame } from '@tether/protocol';
import { ABNORMAL } from './close-codes.js';
import { noop } from './deferred.js';
import type { Emitter } from './emitter.js';
import { DisconnectedError, ServerError } from './errors.js';
import type { Handshake } from './handshake.js';
import type { Liveness } from './liveness.js';
import type { Requests } from './requests.js';
import type { Subscriptions } from './subscriptions.js';
import type { RawData } from './transport.js';
import type { ClientEvents, ClientStats } from './types.js';

/**
 * @internal
 * @param isOpen The client is open.
 * @param ready The connection is ready: welcomed, or (no argument) plain.
 * @param write Writes to the current socket.
 */
export function createInbound(
  shake: Handshake,
  liveness: Liveness,
  requests: Requests,
  subs: Subscriptions,
  emitter: Emitter<ClientEvents>,
  stats: ClientStats,
  isOpen: () => boolean,
  ready: (welcome?: WelcomeFrame) => void,
  write: (data: string | Uint8Array) => void,
) {
  /** Measures the round trip with a `ping` (Tether mode, open); sets `stats.rtt`. */
  function rtt(): Promise<number> {
    const start = Date.now();
    return requests.request({ type: 'ping' }).then(() => (stats.rtt = Date.now() - start));
  }

  function frame(f: ServerFrame): void {
    if (f.type === 'welcome') {
      if (!isOpen() || shake.plain) ready(f);
    } else if (f.type === 'ping') {
      write(shake.encode({ type: 'pong' }));
      // The server's heartbeat paces the client's own ping: the round trip at most once an
      // interval, only on an open Tether connection (a plain server would not answer).
      if (isOpen() && !shake.plain) rtt().catch(noop);
    } else if (!requests.receive(f)) {
      if (f.type === 'error') emitter.emit('error', new ServerError(f.error.code, f.error.message));
      else subs.route(f);
      emitter.emit('message', f);
    }
  }

  return {
    /** `client.ping()`: `live` is whether the connection is open and verified. */
    ping(live: boolean): Promise<number> {
      if (!live || shake.plain)
        return Promise.reject(
          new DisconnectedError(stats.lastClose?.code ?? ABNORMAL, 'ping needs an open Tether connection'),
        );
      return rtt();
    },
    receive(data: RawData): void {
      liveness.seen();
      const value = shake.decode(data);
      if (shake.framed()) {
        // A Tether server speaks first with `welcome`. Before it, and once taken for plain, any
        // other frame is the server's own (its `{ type: 'pong' }` is no reply to us).
        if (isServerFrame(value) && (value.type === 'welcome' || (isOpen() && !shake.plain))) {
          frame(value);
          return;
        }
        // Not a welcome before any welcome: the server does not speak Tether.
        if (!isOpen()) ready();
      }
      emitter.emit('message', value);
    },
  };
}
