import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { jsonCodec } from './codec.js';
import { decodeClientFrame, decodeServerFrame, MAX_DEPTH } from './decode.js';
import { msgpackCodec } from './msgpack.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** Decodes `input` as a client frame and returns the error, failing the test if it was accepted. */
function rejected(input: string | Uint8Array, binary?: boolean, codec = jsonCodec) {
  const result = decodeClientFrame(input, codec, binary);
  if (result.ok) throw new Error(`accepted ${JSON.stringify(result.frame)}`);
  return result;
}

describe('decodeClientFrame rejects without throwing', () => {
  it.each([
    ['a number', '42'],
    ['a string', '"subscribe"'],
    ['null', 'null'],
    ['an array', '[{"type":"ping"}]'],
    ['malformed JSON', '{"type":'],
    ['an empty frame', ''],
  ])('%s: bad_request error frame without id', (_, text) => {
    expect(rejected(text)).toEqual({ ok: false, error: { code: 'bad_request', message: expect.any(String) } });
  });

  it('an unknown type, answering the usable id', () => {
    expect(rejected('{"type":"explode","id":5}')).toMatchObject({ error: { code: 'bad_request' }, id: 5 });
  });

  it('an unknown type without id: no id to answer', () => {
    const r = rejected('{"type":"explode"}');
    expect(r.error.message).toMatch(/unknown frame type/);
    expect(r).not.toHaveProperty('id');
  });

  it('a missing type', () => {
    expect(rejected('{"id":1}')).toMatchObject({ error: { code: 'bad_request' }, id: 1 });
  });

  it.each([
    ['missing', '{"type":"subscribe","channel":"a:b"}'],
    ['zero', '{"type":"subscribe","id":0,"channel":"a:b"}'],
    ['negative', '{"type":"rpc","id":-1,"method":"x"}'],
    ['fractional', '{"type":"publish","id":1.5,"channel":"a:b","data":1}'],
    ['a string', '{"type":"presence","id":"1","channel":"a:b"}'],
    ['unsafe', `{"type":"refresh","id":${2 ** 60},"token":"t"}`],
  ])('an id that is %s', (_, text) => {
    const r = rejected(text);
    expect(r.error.code).toBe('bad_request');
    expect(r).not.toHaveProperty('id');
  });

  it.each([
    ['channel as number', '{"type":"subscribe","id":1,"channel":7}'],
    ['since without epoch', '{"type":"subscribe","id":1,"channel":"a:b","since":{"offset":1}}'],
    ['since with negative offset', '{"type":"subscribe","id":1,"channel":"a:b","since":{"offset":-1,"epoch":"e"}}'],
    ['publish without data', '{"type":"publish","id":1,"channel":"a:b"}'],
    ['key as number', '{"type":"publish","id":1,"channel":"a:b","data":1,"key":9}'],
    ['empty method', '{"type":"rpc","id":1,"method":""}'],
    ['token as object', '{"type":"refresh","id":1,"token":{}}'],
    ['ping id as string', '{"type":"ping","id":"x"}'],
    ['heartbeat timestamp as string', '{"type":"heartbeat","timestamp":"now"}'],
    ['presence limit 0', '{"type":"presence","id":1,"channel":"a:b","limit":0}'],
    ['presence limit fractional', '{"type":"presence","id":1,"channel":"a:b","limit":2.5}'],
    ['presence limit as string', '{"type":"presence","id":1,"channel":"a:b","limit":"10"}'],
    ['presence cursor as number', '{"type":"presence","id":1,"channel":"a:b","cursor":5}'],
    ['presence cursor empty', '{"type":"presence","id":1,"channel":"a:b","cursor":""}'],
    ['presence cursor too long', `{"type":"presence","id":1,"channel":"a:b","cursor":"${'x'.repeat(513)}"}`],
  ])('wrong field types: %s', (_, text) => {
    expect(rejected(text).error.code).toBe('bad_request');
  });

  it('a bad presence cursor names the field and keeps the id', () => {
    const r = rejected('{"type":"presence","id":4,"channel":"a:b","cursor":null}');
    expect(r).toMatchObject({ id: 4, error: { code: 'bad_request', message: expect.stringMatching(/"cursor"/) } });
  });

  it('keeps presence limit and cursor, drops what is unknown', () => {
    const f = '{"type":"presence","id":2,"channel":"a:b","limit":50,"cursor":"YzE","page":3}';
    expect(decodeClientFrame(f, jsonCodec)).toEqual({
      ok: true,
      frame: { type: 'presence', id: 2, channel: 'a:b', limit: 50, cursor: 'YzE' },
    });
  });

  it('invalid UTF-8 in a text frame', () => {
    const bytes = Uint8Array.from([...utf8('{"type":"ping","x":"'), 0xc3, 0x28, ...utf8('"}')]);
    expect(rejected(bytes, false).error.message).toMatch(/UTF-8/);
  });

  it('a binary frame on the JSON codec', () => {
    expect(rejected(utf8('{"type":"ping"}'), true).error.message).toMatch(/binary frame on tether\.v1/);
  });

  it('a text frame on the MessagePack codec', () => {
    expect(rejected('{"type":"ping"}', false, msgpackCodec).error.message).toMatch(/text frame on tether\.v1\.msgpack/);
  });

  it('malformed MessagePack', () => {
    expect(rejected(Uint8Array.from([0xc1, 0xff, 0x00]), true, msgpackCodec).error.code).toBe('bad_request');
    expect(rejected(pack([1, 2]), true, msgpackCodec).error.message).toMatch(/object/);
  });

  it.each([
    ['__proto__ at the top', '{"type":"publish","id":3,"channel":"a:b","data":1,"__proto__":{"admin":true}}'],
    ['__proto__ inside data', '{"type":"publish","id":3,"channel":"a:b","data":{"x":[{"__proto__":{"admin":true}}]}}'],
    ['constructor inside params', '{"type":"rpc","id":3,"method":"m","params":{"constructor":{"prototype":{}}}}'],
  ])('prototype-pollution keys: %s', (_, text) => {
    const r = rejected(text);
    expect(r).toMatchObject({ error: { code: 'bad_request' }, id: 3 });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('prototype-pollution keys in MessagePack maps never reach the frame', () => {
    // msgpackr renames a "__proto__" map key itself; "constructor" is ours to refuse.
    const proto = pack({ type: 'publish', id: 2, channel: 'a:b', data: JSON.parse('{"__proto__":{"admin":true}}') });
    const result = decodeClientFrame(proto, msgpackCodec);
    const data = result.ok && result.frame.type === 'publish' ? (result.frame.data as object) : {};
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.hasOwn(data, '__proto__')).toBe(false);
    const ctor = pack({ type: 'publish', id: 2, channel: 'a:b', data: { constructor: { prototype: {} } } });
    expect(rejected(ctor, true, msgpackCodec)).toMatchObject({ error: { code: 'bad_request' }, id: 2 });
  });

  it('nesting deeper than the limit, without exhausting the stack', () => {
    const deep = `{"type":"publish","id":1,"channel":"a:b","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(rejected(deep).error.message).toMatch(new RegExp(`deeper than ${MAX_DEPTH}`));
  });

  it('accepts nesting up to the limit', () => {
    const depth = MAX_DEPTH - 2;
    const text = `{"type":"publish","id":1,"channel":"a:b","data":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect(decodeClientFrame(text, jsonCodec).ok).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['too long', `room:${'x'.repeat(300)}`],
    ['a NUL byte', 'room:a\u0000b'],
    ['a newline', 'room:a\nb'],
    ['DEL', 'room:\u007f'],
    ['an empty namespace', ':lobby'],
    ['an empty name after the namespace', 'room:'],
    ['a namespace with a space', 'my room:lobby'],
  ])('a channel name that is %s', (_, channel) => {
    const r = rejected(JSON.stringify({ type: 'subscribe', id: 4, channel }));
    expect(r).toMatchObject({ error: { code: 'bad_request', message: expect.stringMatching(/channel/) }, id: 4 });
  });

  it('drops unknown fields instead of passing them on', () => {
    const r = decodeClientFrame('{"type":"unsubscribe","id":1,"channel":"a:b","admin":true}', jsonCodec);
    expect(r).toEqual({ ok: true, frame: { type: 'unsubscribe', id: 1, channel: 'a:b' } });
  });
});

describe('decodeServerFrame', () => {
  it.each([
    ['unknown type', '{"type":"welcome2"}'],
    ['inherited type name', '{"type":"toString"}'],
    ['message without offset', '{"type":"message","channel":"a:b","epoch":"e","data":1,"ts":1}'],
    ['reply without ok', '{"type":"reply","id":1}'],
    ['failed reply without error', '{"type":"reply","id":1,"ok":false}'],
    ['welcome of another protocol', '{"type":"welcome","protocol":2,"connectionId":"c","user":"u"}'],
    ['an array', '[]'],
  ])('rejects %s', (_, text) => {
    const r = decodeServerFrame(text, jsonCodec);
    expect(r.ok).toBe(false);
  });
});
