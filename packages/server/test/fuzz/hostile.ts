/**
 * Hostile application frames for the fuzzer: every client frame type with each field replaced by
 * a value of the wrong type, invalid JSON and UTF-8, deep nesting, huge arrays and strings,
 * prototype-pollution keys, unknown types, binary on a text connection and the reverse.
 */
import { CLIENT_FRAME_TYPES } from '@tether/protocol';
import { msgpackCodec } from '@tether/protocol/msgpack';
import type { Rng } from './rng.js';

/** What one fuzz step sends on a `ws` connection: text or binary bytes. */
export interface Payload {
  data: string | Buffer;
  binary: boolean;
}

const TEMPLATES: Record<string, Record<string, unknown>> = {
  subscribe: { id: 1, channel: 'room:a', since: { offset: 1, epoch: 'e' } },
  unsubscribe: { id: 1, channel: 'room:a' },
  publish: { id: 1, channel: 'room:a', data: { text: 'hi' }, key: 'k1' },
  rpc: { id: 1, method: 'fuzz.echo', params: { a: 1 } },
  presence: { id: 1, channel: 'room:a' },
  refresh: { id: 1, token: 'eyJhbGciOiJub25lIn0.e30.' },
  ping: { id: 1 },
  pong: {},
  heartbeat: { timestamp: 1 },
};

/** Channels the fuzzer aims at, including the one only the server may publish on. */
const CHANNELS = [
  'room:a',
  'room:b',
  'good:stream',
  'user:fuzz',
  'user:other',
  'news',
  'chat:x',
  'a:',
  ':b',
  'x'.repeat(300),
];

function wrongValues(rng: Rng): unknown[] {
  return [
    null,
    true,
    false,
    0,
    -1,
    1.5,
    2 ** 53 + 1,
    -(2 ** 31),
    1e308,
    '',
    'x',
    '\u0000\u0001',
    '\ud800',
    'é'.repeat(rng.int(50)),
    [],
    [1, [2, [3]]],
    {},
    { offset: 'x', epoch: 1 },
    { offset: -5, epoch: '' },
    rng.pick(CHANNELS),
    'x'.repeat(rng.int(20_000)),
    Array.from({ length: rng.int(5_000) }, (_, i) => i),
  ];
}

function nested(depth: number, open: string, close: string, leaf = '1'): string {
  return open.repeat(depth) + leaf + close.repeat(depth);
}

/** One well-typed frame of a random type, with one field (or `type` itself) made hostile. */
function mutated(rng: Rng): Record<string, unknown> {
  const type = rng.pick([...CLIENT_FRAME_TYPES, 'zap', '', 'PUBLISH']);
  const frame: Record<string, unknown> = { type, ...(TEMPLATES[type] ?? { id: 1 }) };
  frame.id = rng.chance(0.7) ? 1 + rng.int(1_000_000) : frame.id;
  if ('channel' in frame) frame.channel = rng.pick(CHANNELS);
  const fields = Object.keys(frame);
  const field = rng.chance(0.1) ? 'type' : rng.pick(fields);
  frame[field] = rng.pick(wrongValues(rng));
  return frame;
}

const TEXT: ((rng: Rng) => string)[] = [
  (rng) => JSON.stringify(mutated(rng)),
  // Valid frames now and then, so the commands behind the checks run too.
  (rng) => JSON.stringify({ type: 'subscribe', id: 1 + rng.int(1e6), channel: rng.pick(CHANNELS) }),
  (rng) =>
    JSON.stringify({ type: 'publish', id: 1 + rng.int(1e6), channel: rng.pick(CHANNELS), data: { n: rng.int(9) } }),
  (rng) =>
    `{"type":"${rng.pick(CLIENT_FRAME_TYPES)}","id":${rng.pick(['1', '-1', '"1"', 'null', '1e400', '0.5', '[]'])}`,
  (rng) => rng.bytes(1 + rng.int(64)).toString('latin1'),
  (rng) => nested(50 + rng.int(3_000), '[', ']'),
  (rng) => nested(50 + rng.int(2_000), '{"a":', '}'),
  (rng) => `{"type":"publish","id":2,"channel":"room:a","data":${nested(60 + rng.int(200), '{"d":', '}')}}`,
  (rng) => JSON.stringify(rng.pick([null, 0, 'x', [], [{ type: 'ping' }], true])),
  () => '{"type":"rpc","id":3,"method":"x","params":{"__proto__":{"polluted":true}}}',
  () => '{"type":"publish","id":4,"channel":"room:a","data":{"a":{"constructor":{"prototype":{"polluted":1}}}}}',
  () => '{"__proto__":{"type":"ping"},"type":"ping","id":5}',
  (rng) => `{"type":"publish","id":6,"channel":"room:a","data":[${Array(4_000).fill(rng.int(9)).join(',')}]}`,
  () => '{"type":"ping","id":7,"type":"publish"}',
  (rng) => ' '.repeat(rng.int(1_000)),
  () => '',
];

const BINARY: ((rng: Rng) => Buffer)[] = [
  (rng) => Buffer.from(msgpackCodec.encode(mutated(rng))),
  (rng) => rng.bytes(1 + rng.int(256)),
  // Truncated MessagePack: a valid frame cut short.
  (rng) => {
    const full = Buffer.from(msgpackCodec.encode(mutated(rng)));
    return full.subarray(0, Math.max(1, rng.int(full.length)));
  },
  // A map header claiming 2^32-1 entries, an array claiming 2^32-1 elements, a str32 claiming 4 GB.
  () => Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]),
  () => Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]),
  () => Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]),
  // Deeply nested arrays (fixarray of one element, 5,000 deep).
  () => Buffer.concat([Buffer.alloc(5_000, 0x91), Buffer.from([0x01])]),
  // Extension types and a timestamp extension.
  () => Buffer.from([0xd4, 0x05, 0x01]),
  () => Buffer.from([0xd6, 0xff, 0x00, 0x00, 0x00, 0x01]),
  // Invalid UTF-8 in a string: { type: 'ping', id: 1, x: "\xff\xfe" }.
  () =>
    Buffer.from([
      0x83,
      0xa4,
      ...Buffer.from('type'),
      0xa4,
      ...Buffer.from('ping'),
      0xa2,
      0x69,
      0x64,
      0x01,
      0xa1,
      0x78,
      0xa2,
      0xff,
      0xfe,
    ]),
  // __proto__ key in MessagePack.
  () =>
    Buffer.from(
      msgpackCodec.encode({ type: 'publish', id: 8, channel: 'room:a', data: JSON.parse('{"__proto__":{"p":1}}') }),
    ),
];

/** A hostile payload for a connection speaking `codec`: mostly its own encoding, sometimes the other. */
export function hostile(rng: Rng, codec: 'json' | 'msgpack'): Payload {
  const own = codec === 'json' ? 0.85 : 0.2;
  if (rng.next() < own) return { data: rng.pick(TEXT)(rng), binary: false };
  return { data: rng.pick(BINARY)(rng), binary: true };
}
