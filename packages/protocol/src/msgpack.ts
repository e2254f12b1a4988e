/**
 * MessagePack in binary frames (`tether.v1.msgpack`). A separate entry point so the default
 * JSON client bundle does not carry a MessagePack implementation:
 * `import { msgpackCodec } from '@tether/protocol/msgpack'`.
 *
 * Type mapping, the same values as JSON: `null` ↔ nil, booleans ↔ bool, strings ↔ str (invalid
 * UTF-8 inside a str decodes as U+FFFD, like any MessagePack decoder), byte arrays ↔ bin, arrays
 * ↔ array, objects ↔ map with string keys. Numbers: every safe integer is sent as a MessagePack
 * integer (positive fixint/uint8–32, negative fixint/int8–32, and int64 past 32 bits, so `ts`
 * and `expiresAt` are integers as in JSON); other numbers as float64. Integers of any width
 * decode to JavaScript numbers.
 * @module
 */
import { Packr } from 'msgpackr';
import { type Codec, SUBPROTOCOL_MSGPACK } from './codec.js';

// Records and structured cloning are msgpackr extensions other MessagePack peers cannot read;
// 64-bit integers come back as numbers so frames stay JSON-shaped.
const packr = new Packr({ useRecords: false, structuredClone: false, mapsAsObjects: true, int64AsType: 'number' });

/** msgpackr writes integers beyond 32 bits as float64; as a BigInt they go as int64. */
const wide = (v: number): boolean => Number.isSafeInteger(v) && (v > 0xffff_ffff || v < -0x8000_0000);

/**
 * `value` with every wide safe integer replaced by a BigInt; the same reference when there is
 * none (the common case: nothing is copied). Frames are bounded in depth, so recursion is safe.
 */
function widen(value: unknown): unknown {
  if (typeof value === 'number') return wide(value) ? BigInt(value) : value;
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const w = widen(item);
      if (w !== item) {
        out ??= value.slice();
        out[i] = w;
      }
    }
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const w = widen(item);
    if (w !== item) {
      out ??= { ...(value as Record<string, unknown>) };
      out[key] = w;
    }
  }
  return out ?? value;
}

export const msgpackCodec: Codec = {
  name: SUBPROTOCOL_MSGPACK,
  binary: true,
  // msgpackr returns a Node Buffer on Node; a plain view keeps the type the same on every platform.
  encode: (frame) => {
    const bytes = packr.pack(widen(frame));
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  },
  decode(data) {
    if (typeof data === 'string') throw new TypeError('MessagePack frames are binary');
    return packr.unpack(data);
  },
};
