// The MessagePack type mapping of docs/PROTOCOL.md: integers as integers (int64 past 32 bits,
// never float64), other numbers as float64, and the same values back as JSON would give.
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../src/msgpack.js';

const bytes = (v: unknown) => msgpackCodec.encode(v as object) as Uint8Array;
/** The type byte of the value in a one-entry map {n: value}: the byte after the key "n". */
const typeOf = (value: number): number => {
  const b = bytes({ n: value });
  return b[b.indexOf(0x6e) + 1] as number;
};

describe('msgpackCodec numbers', () => {
  it('writes every safe integer as a MessagePack integer and other numbers as float64', () => {
    expect(typeOf(7)).toBe(7);
    expect(typeOf(-5)).toBe(0xfb);
    expect(typeOf(0xffff_ffff)).toBe(0xce);
    expect(typeOf(-0x8000_0000)).toBe(0xd2);
    for (const n of [2 ** 32, Date.now(), Number.MAX_SAFE_INTEGER, -(2 ** 31) - 1, Number.MIN_SAFE_INTEGER])
      expect(typeOf(n), String(n)).toBe(0xd3);
    for (const n of [1.5, 2 ** 60, -0.25]) expect(typeOf(n), String(n)).toBe(0xcb);
  });

  it('round-trips frames with wide integers to the same JSON-shaped values, without touching the input', () => {
    const frame = {
      type: 'message',
      ts: Date.now(),
      data: { list: [1, 2 ** 40, { deep: -(2 ** 45) }], b: new Uint8Array([1]) },
    };
    const copy = structuredClone(frame);
    expect(msgpackCodec.decode(bytes(frame))).toEqual(frame);
    expect(frame).toEqual(copy);
    expect(typeof frame.ts).toBe('number');
  });
});
