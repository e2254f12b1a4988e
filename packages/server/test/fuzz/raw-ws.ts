/**
 * Below `ws`: a WebSocket spoken by hand over raw TCP, to send what no well-behaved library
 * sends — fragmented messages, oversized and lying lengths, unmasked client frames, control
 * frames between fragments, bad opcodes and reserved bits — and bogus upgrade requests.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Rng } from './rng.js';

export interface RawFrame {
  opcode: number;
  payload: Buffer;
  fin?: boolean;
  mask?: boolean;
  rsv?: number;
  /** Length to claim in the header instead of the real one (a lie). */
  claim?: number;
}

/** Encodes one frame as RFC 6455 bytes (masked unless `mask: false`). */
export function encodeFrame(f: RawFrame): Buffer {
  const { payload } = f;
  const mask = f.mask ?? true;
  const len = f.claim ?? payload.length;
  const head: number[] = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | (f.opcode & 0x0f)];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65_536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(len));
    head.push(...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([Buffer.from(head), key, body]);
}

const text = (s: string): Buffer => Buffer.from(s);
const ping = (id: number): Buffer => text(JSON.stringify({ type: 'ping', id }));

/** A short script of frames, hostile at the wire level. Returns the frames, in order. */
export function hostileFrames(rng: Rng): RawFrame[] {
  const kind = rng.int(14);
  const whole = ping(1 + rng.int(1000));
  const cut = 1 + rng.int(whole.length - 1);
  switch (kind) {
    case 0: // a message in fragments (legal), with a ping control frame between them (legal)
      return [
        { opcode: 1, payload: whole.subarray(0, cut), fin: false },
        { opcode: 9, payload: text('x') },
        { opcode: 0, payload: whole.subarray(cut) },
      ];
    case 1: // many tiny fragments
      return [...whole].map((b, i, all) => ({
        opcode: i === 0 ? 1 : 0,
        payload: Buffer.from([b]),
        fin: i === all.length - 1,
      }));
    case 2: // unmasked client frame (must be refused: 1002)
      return [{ opcode: 1, payload: whole, mask: false }];
    case 3: // a length far over maxPayload, then not the bytes
      return [{ opcode: 2, payload: rng.bytes(16), claim: 2 ** 40 }];
    case 4: // a real payload over maxPayload
      return [{ opcode: 1, payload: Buffer.alloc(20_000 + rng.int(20_000), 0x61) }];
    case 5: // a control frame longer than 125 bytes
      return [{ opcode: 9, payload: rng.bytes(126 + rng.int(200)) }];
    case 6: // a fragmented control frame
      return [{ opcode: 9, payload: text('a'), fin: false }];
    case 7: // continuation without a start
      return [{ opcode: 0, payload: whole }];
    case 8: // a new message while another is unfinished
      return [
        { opcode: 1, payload: whole.subarray(0, cut), fin: false },
        { opcode: 1, payload: whole },
      ];
    case 9: // reserved opcode or reserved bits
      return [
        { opcode: rng.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xf]), payload: whole },
        { opcode: 1, payload: whole, rsv: 1 + rng.int(7) },
      ];
    case 10: // invalid UTF-8 in a text frame, whole or split across fragments
      return rng.chance(0.5)
        ? [{ opcode: 1, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }]
        : [
            { opcode: 1, payload: Buffer.from([0x22, 0xe2, 0x82]), fin: false },
            { opcode: 0, payload: Buffer.from([0x28, 0x22]) },
          ];
    case 11: // close frames: bad codes, a one-byte payload, invalid UTF-8 reason
      return [
        rng.pick([
          { opcode: 8, payload: Buffer.from([0x03, 0xe7]) },
          { opcode: 8, payload: Buffer.from([0x03]) },
          { opcode: 8, payload: Buffer.from([0x03, 0xe8, 0xff]) },
          { opcode: 8, payload: Buffer.from([0x0b, 0xb8]) },
        ]),
      ];
    case 12: // pong flood and empty frames, then a good ping
      return [
        ...Array.from({ length: 5 }, () => ({ opcode: 10, payload: rng.bytes(rng.int(100)) })),
        { opcode: 1, payload: Buffer.alloc(0) },
        { opcode: 1, payload: whole },
      ];
    default: // random bytes as a frame stream
      return [{ opcode: 2, payload: rng.bytes(1 + rng.int(300)), mask: rng.chance(0.8), rsv: rng.int(8) }];
  }
}

/** Opens a raw socket and performs the upgrade; resolves with the socket once `101` arrived. */
export function rawUpgrade(port: number, token: string, protocol = 'tether.v1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no upgrade response within 10 s'));
    }, 10_000);
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        return;
      }
      // Whatever came after the headers (the welcome) is dropped: this socket only sends.
      resolve(socket);
    };
    socket.on('data', onData);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.write(
      [
        'GET /ws HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Protocol: ${protocol}`,
        `Authorization: Bearer ${token}`,
        '',
        '',
      ].join('\r\n'),
    );
  });
}

/** Upgrade requests that must be answered with a 4xx status and no WebSocket, and the statuses allowed. */
export function bogusUpgrade(rng: Rng, port: number, token: string): { request: string; expect: number[] } {
  const key = randomBytes(16).toString('base64');
  const base = (lines: string[], path = '/ws', method = 'GET'): string =>
    [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...lines, '', ''].join('\r\n');
  const good = ['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13'];
  const auth = `Authorization: Bearer ${token}`;
  const cases: { request: string; expect: number[] }[] = [
    { request: base([...good, auth], '/nope'), expect: [404] },
    { request: base(good), expect: [401] },
    { request: base([...good, 'Authorization: Bearer not.a.token']), expect: [401] },
    { request: base([...good, auth, 'Sec-WebSocket-Protocol: chat, superchat']), expect: [400] },
    { request: base(['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', auth]), expect: [400] },
    {
      request: base([
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Version: 7',
        auth,
      ]),
      expect: [400],
    },
    { request: base([...good, auth, 'Origin: https://evil.example']), expect: [403] },
    // Without `Upgrade` it is a plain GET, which no route serves.
    { request: base([...good.slice(1), auth]), expect: [404] },
    // Headers past Node's limit: refused by the HTTP parser (the exact 431 is pinned in security/).
    { request: base([...good, `X-Big: ${'a'.repeat(20_000)}`, auth]), expect: [400, 431] },
    { request: 'GARBAGE\r\n\r\n', expect: [400] },
    { request: `GET /ws HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n${good.join('\r\n')}\r\n\r\n`, expect: [400] },
    { request: `${rng.bytes(64).toString('latin1')}\r\n\r\n`, expect: [400] },
  ];
  return rng.pick(cases);
}
