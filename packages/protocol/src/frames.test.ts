import { describe, expect, it } from 'vitest';
import { type Codec, jsonCodec } from './codec.js';
import { decodeClientFrame, decodeServerFrame } from './decode.js';
import { CLIENT_FRAME_TYPES, type ClientFrame, SERVER_FRAME_TYPES, type ServerFrame } from './frames.js';
import { msgpackCodec } from './msgpack.js';

const message = {
  type: 'message',
  channel: 'room:lobby',
  offset: 7,
  epoch: 'e1',
  data: { text: 'hi', n: [1, 2.5, null, true] },
  from: 'alice',
  ts: 1_764_000_000_000,
} as const;

/** One sample of every frame each side sends, with optional fields present where they exist. */
const serverFrames: ServerFrame[] = [
  {
    type: 'welcome',
    protocol: 1,
    connectionId: 'c1',
    user: 'alice',
    heartbeat: { interval: 25_000, timeout: 10_000 },
    limits: { maxPayload: 65_536, messagesPerSecond: 50, maxSubscriptions: 100 },
    expiresAt: 1_764_000_600_000,
  },
  { type: 'ping' },
  { type: 'pong', id: 3 },
  { type: 'heartbeat', timestamp: 1 },
  { type: 'reply', id: 1, ok: true, result: { offset: 7, epoch: 'e1', recovered: true, publications: [message] } },
  { type: 'reply', id: 2, ok: false, error: { code: 'forbidden', message: 'not yours' } },
  message,
  {
    type: 'presence_diff',
    channel: 'room:lobby',
    joined: 1,
    left: 1,
    joins: [{ user: 'bob', connectionId: 'c2', info: { name: 'Bob' } }],
    leaves: [{ user: 'eve', connectionId: 'c3' }],
  },
  { type: 'presence_diff', channel: 'live:final', joined: 1200, left: 35 },
  { type: 'unsubscribed', channel: 'room:lobby', reason: 'forbidden' },
  { type: 'error', error: { code: 'bad_request', message: 'a frame must be an object' } },
];

const clientFrames: ClientFrame[] = [
  { type: 'subscribe', id: 1, channel: 'room:lobby', since: { offset: 4, epoch: 'e1' } },
  { type: 'subscribe', id: 2, channel: 'news' },
  { type: 'unsubscribe', id: 3, channel: 'room:lobby' },
  { type: 'publish', id: 4, channel: 'room:lobby', data: { text: 'hi' }, key: 'k-1' },
  { type: 'publish', id: 5, channel: 'room:lobby', data: null },
  { type: 'rpc', id: 6, method: 'chat.send', params: { text: 'hi' } },
  { type: 'rpc', id: 7, method: 'time' },
  { type: 'presence', id: 8, channel: 'room:lobby' },
  { type: 'presence', id: 8, channel: 'live:final', limit: 100, cursor: 'YzAwOTk' },
  { type: 'refresh', id: 9, token: 'eyJ.x.y' },
  { type: 'ping', id: 10 },
  { type: 'ping' },
  { type: 'pong' },
  { type: 'heartbeat', timestamp: 1_764_000_000_000 },
  { type: 'heartbeat' },
];

describe.each([jsonCodec, msgpackCodec])('round trip through $name', (codec: Codec) => {
  it('covers every frame type of both directions', () => {
    expect(new Set(serverFrames.map((f) => f.type))).toEqual(new Set(SERVER_FRAME_TYPES));
    expect(new Set(clientFrames.map((f) => f.type))).toEqual(new Set(CLIENT_FRAME_TYPES));
  });

  it.each(serverFrames.map((f) => [`${f.type} ${JSON.stringify(f).length}`, f] as const))('server %s', (_, frame) => {
    const decoded = decodeServerFrame(codec.encode(frame), codec);
    expect(decoded).toEqual({ ok: true, frame });
  });

  it.each(clientFrames.map((f) => [`${f.type} ${JSON.stringify(f).length}`, f] as const))('client %s', (_, frame) => {
    const decoded = decodeClientFrame(codec.encode(frame), codec);
    expect(decoded).toEqual({ ok: true, frame });
  });
});

describe('msgpack codec', () => {
  it('carries bytes in data and keeps earlier encodings intact', () => {
    const first = msgpackCodec.encode({ type: 'publish', id: 1, channel: 'a:b', data: new Uint8Array([1, 2, 3]) });
    const copy = Uint8Array.from(first as Uint8Array);
    msgpackCodec.encode({ type: 'publish', id: 2, channel: 'a:b', data: 'x'.repeat(10_000) });
    expect(first).toEqual(copy);
    const decoded = decodeClientFrame(first, msgpackCodec);
    expect(decoded.ok && decoded.frame.type === 'publish' && [...(decoded.frame.data as Uint8Array)]).toEqual([
      1, 2, 3,
    ]);
  });

  it('decodes ArrayBuffer input as a browser delivers it', () => {
    const bytes = msgpackCodec.encode({ type: 'ping' }) as Uint8Array;
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    expect(decodeServerFrame(buffer, msgpackCodec)).toEqual({ ok: true, frame: { type: 'ping' } });
  });
});
