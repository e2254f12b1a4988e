import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  extractToken,
  matchChannel,
  originAllowed,
  type Publication,
  RpcError,
  subscribeResult,
  toMs,
} from '../src/index.js';
import { Namespaces } from '../src/namespaces.js';
import { FailureLimiter, TokenBucket, WindowCounter } from '../src/rate-limit.js';

const req = (url: string, headers: Record<string, string> = {}): IncomingMessage =>
  ({ url, headers }) as unknown as IncomingMessage;

describe('matchChannel', () => {
  it('matches literal names and * wildcards', () => {
    expect(matchChannel('room:lobby', 'room:lobby')).toBe(true);
    expect(matchChannel('room:lobby', 'room:lobby2')).toBe(false);
    expect(matchChannel('room:*', 'room:a')).toBe(true);
    expect(matchChannel('room:*', 'chat:a')).toBe(false);
    expect(matchChannel('doc:*:comments', 'doc:7:comments')).toBe(true);
    expect(matchChannel('doc:*:comments', 'doc:7:likes')).toBe(false);
    expect(matchChannel('*', 'anything:at:all')).toBe(true);
    expect(matchChannel('a*a', 'a')).toBe(false);
  });
});

describe('toMs', () => {
  it('reads numbers and unit strings, and names the option when it cannot', () => {
    expect(toMs(250, 'x')).toBe(250);
    expect(toMs('500ms', 'x')).toBe(500);
    expect(toMs('30s', 'x')).toBe(30_000);
    expect(toMs('10m', 'x')).toBe(600_000);
    expect(toMs('1h', 'x')).toBe(3_600_000);
    expect(toMs('1.5s', 'x')).toBe(1_500);
    expect(() => toMs('soon', 'history.ttl')).toThrow(/history\.ttl/);
    expect(() => toMs(-1, 'x')).toThrow(RangeError);
  });
});

describe('subscribeResult', () => {
  const pub = (offset: number, epoch = 'e1'): Publication => ({
    type: 'message',
    channel: 'c:1',
    offset,
    epoch,
    data: offset,
    ts: 0,
  });
  const history = (offset: number, offsets: number[]) => ({
    epoch: 'e1',
    offset,
    publications: offsets.map((o) => pub(o)),
  });

  it('recovers a contiguous run up to the latest offset', () => {
    expect(subscribeResult({ offset: 2, epoch: 'e1' }, history(4, [3, 4]))).toMatchObject({
      recovered: true,
      offset: 4,
      publications: [{ offset: 3 }, { offset: 4 }],
    });
  });

  it('refuses holes, a missing tail, another epoch and a position from the future', () => {
    const no = { recovered: false, publications: [] };
    expect(subscribeResult({ offset: 2, epoch: 'e1' }, history(5, [3, 5]))).toMatchObject(no);
    expect(subscribeResult({ offset: 2, epoch: 'e1' }, history(5, [3, 4]))).toMatchObject(no);
    expect(subscribeResult({ offset: 1, epoch: 'e1' }, history(5, [4, 5]))).toMatchObject(no);
    expect(subscribeResult({ offset: 2, epoch: 'e0' }, history(4, [3, 4]))).toMatchObject(no);
    expect(subscribeResult({ offset: 9, epoch: 'e1' }, history(4, [3, 4]))).toMatchObject(no);
    expect(subscribeResult(undefined, history(4, [3, 4]))).toMatchObject({ ...no, offset: 4 });
  });
});

describe('rate limiting', () => {
  it('refills the bucket at the configured rate up to the burst', () => {
    let t = 0;
    const bucket = new TokenBucket(10, 3, () => t);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    t += 99;
    expect(bucket.take()).toBe(false);
    t += 1;
    expect(bucket.take()).toBe(true);
    t += 10_000;
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  });

  it('counts events per window and says when the limit is passed', () => {
    let t = 0;
    const w = new WindowCounter(2, 1_000, () => t);
    expect([w.hit(), w.hit(), w.hit()]).toEqual([false, false, true]);
    t += 1_000;
    expect(w.hit()).toBe(false);
  });

  it('blocks a key after max failures until its window ends, and holds at most maxKeys keys', () => {
    let t = 0;
    const f = new FailureLimiter(2, 1_000, 3, () => t);
    f.fail('a');
    expect(f.retryAfter('a')).toBe(0);
    f.fail('a');
    t = 400;
    expect(f.retryAfter('a')).toBe(600);
    t = 1_000;
    expect(f.retryAfter('a')).toBe(0);
    // Four new keys in one window: the oldest is dropped, so the map never passes three.
    for (const k of ['b', 'c', 'd', 'e']) {
      f.fail(k);
      f.fail(k);
    }
    expect(['b', 'c', 'd', 'e'].map((k) => f.retryAfter(k) > 0)).toEqual([false, true, true, true]);
  });
});

describe('namespaces', () => {
  it('applies defaults, the * fallback and per-namespace options', () => {
    const ns = new Namespaces({ '*': { presence: false }, room: { history: { size: 5, ttl: '1m' }, presence: true } });
    expect(ns.policy('chat:1')).toMatchObject({
      historySize: 100,
      historyTtl: 600_000,
      presence: false,
      publish: 'subscribers',
    });
    expect(ns.policy('room:1')).toMatchObject({ historySize: 5, historyTtl: 60_000, presence: true });
    expect(ns.policy('bare')).toMatchObject({ historySize: 100 });
  });

  it('keeps user:<id> private and server-published whatever the config says', () => {
    const ns = new Namespaces({ user: { publish: 'clients' } });
    expect(ns.policy('user:42')).toMatchObject({ privateTo: '42', publish: 'server' });
  });

  it('rejects bad options with the option named', () => {
    expect(() => new Namespaces({ room: { publish: 'everyone' as never } })).toThrow(/namespaces\.room\.publish/);
    expect(() => new Namespaces({ room: { history: { size: -1 } } })).toThrow(RangeError);
  });
});

describe('tokens and origins', () => {
  it('reads the token from the header, then the query, then the cookie', () => {
    expect(extractToken(req('/ws?token=q', { authorization: 'Bearer h', cookie: 'token=c' }))).toBe('h');
    expect(extractToken(req('/ws?token=q', { cookie: 'token=c' }))).toBe('q');
    expect(extractToken(req('/ws', { cookie: 'a=1; token=c%3D' }))).toBe('c=');
    expect(extractToken(req('/ws', { authorization: 'Basic x' }))).toBeUndefined();
  });

  it('allows no Origin, the same host, listed origins and *', () => {
    expect(originAllowed(req('/', { host: 'h:1' }), [])).toBe(true);
    expect(originAllowed(req('/', { host: 'h:1', origin: 'http://h:1' }), [])).toBe(true);
    expect(originAllowed(req('/', { host: 'h:1', origin: 'http://x' }), [])).toBe(false);
    expect(originAllowed(req('/', { host: 'h:1', origin: 'http://x' }), ['http://x'])).toBe(true);
    expect(originAllowed(req('/', { host: 'h:1', origin: 'null' }), ['*'])).toBe(true);
    expect(originAllowed(req('/', { host: 'h:1', origin: 'https://h:1' }), [])).toBe(false);
    expect(originAllowed(req('/', { host: 'h:1', origin: 'https://h:1', 'x-forwarded-proto': 'https' }), [])).toBe(
      true,
    );
  });
});

describe('RpcError', () => {
  it('carries a protocol error code and refuses unknown ones', () => {
    expect(new RpcError('not_found', 'gone')).toMatchObject({ code: 'not_found', message: 'gone' });
    expect(() => new RpcError('teapot' as never, 'x')).toThrow(TypeError);
  });
});
