/**
 * MessagePack in binary frames (`tether.v1.msgpack`). A separate entry point so the default
 * JSON client bundle does not carry a MessagePack implementation:
 * `import { msgpackCodec } from '@tether/protocol/msgpack'`.
 * @module
 */
import { Packr } from 'msgpackr';
import { type Codec, SUBPROTOCOL_MSGPACK } from './codec.js';

// Records and structured cloning are msgpackr extensions other MessagePack peers cannot read;
// 64-bit integers come back as numbers so frames stay JSON-shaped.
const packr = new Packr({ useRecords: false, structuredClone: false, mapsAsObjects: true, int64AsType: 'number' });

export const msgpackCodec: Codec = {
  name: SUBPROTOCOL_MSGPACK,
  binary: true,
  // msgpackr returns a Node Buffer on Node; a plain view keeps the type the same on every platform.
  encode: (frame) => {
    const bytes = packr.pack(frame);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  },
  decode(data) {
    if (typeof data === 'string') throw new TypeError('MessagePack frames are binary');
    return packr.unpack(data);
  },
};
