/**
 * Encode-once fan-out: a frame is encoded at most once per codec, lazily, and the same bytes go
 * to every connection using that codec.
 * @module
 */
import type { Codec } from '@tether/protocol';

/** Encodes one frame with `codec` into a Buffer that `ws` sends without copying or re-encoding. */
export function encodeFrame(frame: object, codec: Codec): Buffer {
  const out = codec.encode(frame);
  return typeof out === 'string' ? Buffer.from(out, 'utf8') : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** One frame and its encodings so far (keyed by codec name: at most two in practice). */
export class EncodedFrame {
  private readonly cache = new Map<string, Buffer>();

  constructor(readonly frame: object) {}

  for(codec: Codec): Buffer {
    let bytes = this.cache.get(codec.name);
    if (!bytes) {
      bytes = encodeFrame(this.frame, codec);
      this.cache.set(codec.name, bytes);
    }
    return bytes;
  }
}
