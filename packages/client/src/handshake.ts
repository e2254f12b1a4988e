/**
 * The handshake: does this server speak Tether? A socket whose subprotocol is not `tether.v1*`
 * is plain at once; one that is gets `welcomeTimeout` to send `welcome` before it is taken for a
 * plain `ws` server that merely echoed our subprotocol — a guess a late `welcome` still corrects.
 * Also the wire format that follows from the answer: how frames are encoded and decoded.
 * @module
 */
import type { ResolvedOptions } from './options.js';
import type { RawData } from './transport.js';

/** @internal */
export type Handshake = ReturnType<typeof createHandshake>;

/** @internal `forcePlain`: the `plain` option (offer no subprotocol at all). */
export function createHandshake(
  o: Pick<ResolvedOptions, 'codec' | 'connectTimeout' | 'welcomeTimeout'>,
  forcePlain: boolean | undefined,
) {
  const wire = o.codec;
  /** The connect deadline of this attempt, then its welcome deadline. */
  let timer: ReturnType<typeof setTimeout> | undefined;
  let plain = false;
  /** The socket selected a `tether.v1*` subprotocol. */
  let tetherSocket = false;
  /** Plain mode was a guess on a Tether socket (no welcome yet): a late welcome still upgrades it. */
  let guessed = false;

  return {
    get plain() {
      return plain;
    },
    protocols: (): string[] => (forcePlain ? [] : [wire.name]),

    /** An attempt begins: `timeout` runs unless it opens within `connectTimeout`. */
    start(timeout: () => void): void {
      timer = setTimeout(timeout, o.connectTimeout);
    },

    /** The socket opened with `protocol`: `ready` now (plain), or after a silence of `welcomeTimeout`. */
    opened(protocol: string, ready: () => void): void {
      tetherSocket = protocol.startsWith('tether.v1');
      clearTimeout(timer);
      if (!tetherSocket) {
        ready();
        return;
      }
      // A Tether server welcomes at once; `ws`-based plain servers echo our subprotocol but
      // may never speak first, so silence after open means plain mode.
      timer = setTimeout(ready, o.welcomeTimeout);
    },

    /** The connection is ready: welcomed, or (no `welcome`) plain. */
    ready(welcomed: boolean): void {
      clearTimeout(timer);
      plain = !welcomed;
      guessed = plain && tetherSocket;
    },

    stop(): void {
      clearTimeout(timer);
    },

    /** Whether incoming data may be Tether frames (always, unless known plain). */
    framed: (): boolean => !plain || guessed,

    encode: (x: unknown): string | Uint8Array => {
      if (typeof x === 'string' || x instanceof Uint8Array) return x;
      return plain ? JSON.stringify(x) : wire.encode(x as object);
    },

    /** Decodes what arrived; anything undecodable is delivered as it is (a raw string stays a string). */
    decode(data: RawData): unknown {
      try {
        if (typeof data !== 'string') return wire.binary ? wire.decode(new Uint8Array(data)) : data;
        // Text on a binary codec is a plain server's JSON.
        return wire.binary ? JSON.parse(data) : wire.decode(data);
      } catch {
        // Not JSON: delivered as the raw string, as the original WebSocketManager did.
        return data;
      }
    },
  };
}
