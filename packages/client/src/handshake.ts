/**
 * The handshake: does this server speak Tether? JSON offers no subprotocol — a Tether server
 * takes a connection that offers none as JSON, and browsers fail the handshake when a server
 * selects none of those offered, as most servers do — so a Tether server is recognised by its
 * `welcome`, which it sends first and at once. Any other first frame, or `welcomeTimeout` of
 * silence, means a plain server — a guess a late `welcome` still corrects.
 * Only a binary codec (MessagePack) offers its subprotocol: it needs a Tether server anyway.
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
  /** Plain mode was a guess (no welcome yet, not `plain: true`): a late welcome still upgrades it. */
  let guessed = false;

  return {
    get plain() {
      return plain;
    },
    protocols: (): string[] => (wire.binary && !forcePlain ? [wire.name] : []),

    /** An attempt begins: `timeout` runs unless it opens within `connectTimeout`. */
    start(timeout: () => void): void {
      timer = setTimeout(timeout, o.connectTimeout);
    },

    /** The socket opened: `ready` now (`plain: true`), or after a silence of `welcomeTimeout`. */
    opened(ready: () => void): void {
      clearTimeout(timer);
      // A Tether server welcomes at once; a plain server may never speak first.
      if (forcePlain) ready();
      else timer = setTimeout(ready, o.welcomeTimeout);
    },

    /** The connection is ready: welcomed, or (no `welcome`) plain. */
    ready(welcomed: boolean): void {
      clearTimeout(timer);
      plain = !welcomed;
      guessed = plain && !forcePlain;
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
