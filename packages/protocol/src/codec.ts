/**
 * The codec seam: how frames become WebSocket messages. The codec's `name` is the subprotocol
 * that selects it during the handshake.
 * @module
 */

export const SUBPROTOCOL_JSON = 'tether.v1';
export const SUBPROTOCOL_MSGPACK = 'tether.v1.msgpack';

/** Raw data as a WebSocket delivers it: text as a string, binary as bytes. */
export type FrameData = string | Uint8Array | ArrayBuffer;

export interface Codec {
  /** The WebSocket subprotocol this codec is negotiated as. */
  readonly name: string;
  /** Whether frames travel as binary (`true`) or text (`false`) WebSocket messages. */
  readonly binary: boolean;
  /** Encodes one frame. Text codecs return a string, binary codecs bytes. */
  encode(frame: object): string | Uint8Array;
  /** Decodes one message. Throws on malformed input; the frame decoders catch and classify. */
  decode(data: string | Uint8Array): unknown;
}

let utf8: { decode(input: Uint8Array): string } | undefined;

/** JSON in text frames: the default codec, `tether.v1`. */
export const jsonCodec: Codec = {
  name: SUBPROTOCOL_JSON,
  binary: false,
  encode: (frame) => JSON.stringify(frame),
  decode(data) {
    // `fatal` turns invalid UTF-8 into an error instead of silently inserting U+FFFD.
    utf8 ??= new TextDecoder('utf-8', { fatal: true });
    return JSON.parse(typeof data === 'string' ? data : utf8.decode(data));
  },
};
