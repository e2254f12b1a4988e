/**
 * The HTTP side under attack: API-key guessing (every wrong key refused, and a per-address
 * limit on failed attempts), oversized headers and bodies refused with the right status, and
 * no token or API key in any log line the server writes while all of this goes on — and while
 * tokens travel in headers, query strings, cookies and `refresh` frames.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, capturedLogLines, cleanup, RawClient, refusedStatus, startServer, token } from '../helpers.js';

afterEach(cleanup);

/** Sends raw request bytes and resolves with the status line's code (0 when closed without one). */
function rawStatus(port: number, request: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let head = '';
    socket.on('data', (c: Buffer) => {
      head += c.toString('latin1');
      if (head.includes('\r\n')) {
        resolve(Number(head.slice(9, 12)));
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(0));
    socket.write(request);
  });
}

const publish = (http: string, key: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${http}/api/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body,
  });

describe('API key guessing', () => {
  it('refuses every near miss with 401 (keys are compared as SHA-256 digests, in constant time)', async () => {
    const server = await startServer();
    const body = JSON.stringify({ channel: 'news', data: 1 });
    const misses = [`${API_KEY}x`, API_KEY.slice(0, -1), API_KEY.toUpperCase(), `x${API_KEY}`, `${API_KEY}=`, ''];
    for (const key of misses) expect((await publish(server.http, key, body)).status, JSON.stringify(key)).toBe(401);
    expect((await publish(server.http, API_KEY, body)).status).toBe(200);
  });

  it('limits failed attempts per address: past the limit even the right key waits (429 with Retry-After)', async () => {
    const server = await startServer({ limits: { apiKeyFailures: 5 } });
    const body = JSON.stringify({ channel: 'news', data: 1 });
    for (let i = 0; i < 5; i++) expect((await publish(server.http, `guess-${i}`, body)).status).toBe(401);
    const limited = await publish(server.http, 'guess-6', body);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await limited.json()) as unknown).toMatchObject({ error: { code: 'rate_limited' } });
    // The limit is on the address, so a lucky guess now gains nothing.
    expect((await publish(server.http, API_KEY, body)).status).toBe(429);
    expect((await fetch(`${server.http}/healthz`)).status).toBe(200);
  });
});

describe('oversized requests', () => {
  it('answers 431 to headers past the limit, on the API and on the upgrade path', async () => {
    const server = await startServer();
    const big = `X-Big: ${'a'.repeat(20_000)}\r\n`;
    expect(await rawStatus(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${big}\r\n`)).toBe(431);
    const upgrade = `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(16).toString('base64')}\r\n${big}\r\n`;
    expect(await rawStatus(server.port, upgrade)).toBe(431);
  });

  it('answers 413 to a body over maxPayload, declared or streamed, and 400 to a malformed one', async () => {
    const server = await startServer({ limits: { maxPayload: 1024 } });
    const big = JSON.stringify({ channel: 'news', data: 'x'.repeat(2_000) });
    expect((await publish(server.http, API_KEY, big)).status).toBe(413);
    const chunked = await rawStatus(
      server.port,
      `POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${(2_000).toString(16)}\r\n${'x'.repeat(2_000)}\r\n0\r\n\r\n`,
    );
    expect(chunked).toBe(413);
    expect((await publish(server.http, API_KEY, '{"channel":')).status).toBe(400);
    expect((await server.tether.history('news')).publications).toEqual([]);
  });
});

describe('secrets stay out of logs', () => {
  it('captures every helper server’s log lines at trace level, so cleanup’s secret scan covers the suite', async () => {
    const server = await startServer();
    const before = capturedLogLines();
    const c = await RawClient.connect(server.url, { token: await token('ann') });
    await c.next('welcome');
    await refusedStatus(`${server.url}?token=${await token('bob')}x`);
    await fetch(`${server.http}/api/nowhere?key=${API_KEY}`);
    // connection open, auth refused, unknown API route: each a line the scan in cleanup reads.
    expect(capturedLogLines() - before).toBeGreaterThanOrEqual(3);
  });

  it('never logs a token or the API key, at trace level, across every way they travel', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const server = await startServer({ logger: pino({ level: 'trace' }, sink) });
    const good = await token('ann');
    const secrets = [good, good.split('.')[2] as string, API_KEY];
    // Tokens in the header, the query, a cookie; refused, accepted, refreshed; API key right and wrong.
    const a = await RawClient.connect(`${server.url}?token=${good}`);
    await a.next('welcome');
    const b = await RawClient.connect(server.url, { headers: { cookie: `token=${good}` } });
    await b.next('welcome');
    await refusedStatus(`${server.url}?token=${good}x`);
    await refusedStatus(server.url, { headers: { authorization: `Bearer ${good}x`, origin: 'https://evil.example' } });
    await a.request({ type: 'refresh', token: `${good}y` });
    await a.request({ type: 'refresh', token: good });
    a.ws.send(`{"type":"refresh","id":99,"token":"${good}"`);
    await publish(server.http, API_KEY, JSON.stringify({ channel: 'news', data: 1 }));
    await publish(server.http, `${API_KEY}-wrong`, JSON.stringify({ channel: 'news', data: 1 }));
    await publish(server.http, API_KEY, '{not json');
    await fetch(`${server.http}/api/history?channel=news&token=${good}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    await fetch(`${server.http}/nowhere?token=${good}&key=${API_KEY}`);
    a.close();
    b.close();
    await Promise.all([a.closed, b.closed]);
    await server.tether.close({ deadline: 500 });
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) for (const secret of secrets) expect(line.includes(secret), line).toBe(false);
    expect(lines.join('\n')).not.toMatch(/eyJ[\w-]{10,}/);
  });
});
