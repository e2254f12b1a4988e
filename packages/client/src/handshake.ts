/**
 * The handshake: does this server speak Tether? A socket whose subprotocol is not `tether.v1*`
 * is plain at once; one that is gets `welcomeTimeout` to send `welcome` before it is taken for a
 * plain `ws` server that merely echoed our subprotocol — a guess a late `welcome` still corrects.
 * Also the wire format that follows from the answer: how frames are encoded and decoded.
 * @module
 */
import type { Codec } from '@tether/protocol';
import type { RawData } from './transport.js';

/** @internal */
export type Handshake = ReturnType<typeof createHandshake>;

/** @internal `forcePlain`: the `plain` option (offer no subprotocol at all). */
export function createHandshake(wire: Codec, forcePlain: boolean | undefined) {
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

    /** The socket opened with `protocol`; true when a `welcome` should follow. */
    opened(protocol: string): boolean {
      tetherSocket = protocol.startsWith('tether.v1');
      return tetherSocket;
    },

    /** The connection is ready: welcomed, or (no `welcome`) plain. */
    ready(welcomed: boolean): void {
      plain = !welcomed;
      guessed = plain && tetherSocket;
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
