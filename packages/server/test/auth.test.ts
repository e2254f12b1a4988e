import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { signToken } from '../src/index.js';
import { cleanup, RawClient, refusedStatus, SECRET, startServer, token, waitFor } from './helpers.js';

let jwks: Server | undefined;
afterEach(async () => {
  await cleanup();
  if (jwks) await new Promise((r) => jwks?.close(r));
  jwks = undefined;
});

const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('where the token comes from', () => {
  it('accepts the Authorization header, the token query parameter and the token cookie', async () => {
    const server = await startServer();
    const t = await token('alice');
    const viaHeader = await RawClient.connect(server.url, { headers: { authorization: `Bearer ${t}` } });
    const viaQuery = await RawClient.connect(`${server.url}?token=${t}`);
    const viaCookie = await RawClient.connect(server.url, { headers: { cookie: `theme=dark; token=${t}` } });
    for (const c of [viaHeader, viaQuery, viaCookie]) expect(await c.next('welcome')).toMatchObject({ user: 'alice' });
  });
});

describe('refusals before the upgrade', () => {
  it('answers 401 with no upgrade for missing, malformed, wrongly signed, alg:none and expired tokens', async () => {
    const server = await startServer();
    const now = Math.floor(Date.now() / 1000);
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'mallory', exp: now + 3600 })}.`;
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(now - 10)
      .sign(new TextEncoder().encode(SECRET));
    const noSub = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(SECRET));
    const cases: Record<string, Record<string, string>> = {
      missing: {},
      malformed: { authorization: 'Bearer not-a-jwt' },
      'wrong signature': { authorization: `Bearer ${await signToken('another-secret', { user: 'alice' })}` },
      'alg none': { authorization: `Bearer ${none}` },
      expired: { authorization: `Bearer ${expired}` },
      'no sub': { authorization: `Bearer ${noSub}` },
      'not bearer': { authorization: `Basic ${await token()}` },
    };
    for (const [name, headers] of Object.entries(cases)) {
      const { status, body } = await refusedStatus(server.url, { headers });
      expect(status, name).toBe(401);
      expect(body).not.toMatch(/eyJ/);
    }
    expect(server.tether.connections).toBe(0);
  });

  it('answers 403 to a browser Origin that is not allowed, judging requests without Origin by token only', async () => {
    const server = await startServer({ allowedOrigins: ['http://app.example'] });
    const t = await token();
    expect(
      (await refusedStatus(server.url, { headers: { origin: 'http://evil.example', authorization: `Bearer ${t}` } }))
        .status,
    ).toBe(403);
    // Even without a token the origin check comes first and says 403.
    expect((await refusedStatus(server.url, { headers: { origin: 'null' } })).status).toBe(403);
    const listed = await RawClient.connect(server.url, { token: t, headers: { origin: 'http://app.example' } });
    const same = await RawClient.connect(server.url, {
      token: t,
      headers: { origin: `http://127.0.0.1:${server.port}` },
    });
    const none = await RawClient.connect(server.url, { token: t });
    for (const c of [listed, same, none]) await c.next('welcome');
  });

  it('allows only the same origin by default', async () => {
    const server = await startServer();
    const t = await token();
    const headers = { origin: 'http://localhost:5173', authorization: `Bearer ${t}` };
    expect((await refusedStatus(server.url, { headers })).status).toBe(403);
  });

  it('answers 400 when only unknown subprotocols are offered, and serves JSON when none is', async () => {
    const server = await startServer();
    const t = await token();
    expect(
      (await refusedStatus(server.url, { protocols: ['mqtt', 'wamp'], headers: { authorization: `Bearer ${t}` } }))
        .status,
    ).toBe(400);
    const bare = await RawClient.connect(server.url, { token: t, protocols: [] });
    expect(bare.ws.protocol).toBe('');
    expect(await bare.next('welcome')).toMatchObject({ type: 'welcome' });
    const picky = await RawClient.connect(server.url, { token: t, protocols: ['mqtt', 'tether.v1'] });
    expect(picky.ws.protocol).toBe('tether.v1');
  });
});

describe('other key kinds and hooks', () => {
  it('verifies RS256 and ES256 tokens against a PEM public key', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const server = await startServer({ auth: { publicKey: await exportSPKI(publicKey) } });
      const t = await new SignJWT({ info: { alg } })
        .setProtectedHeader({ alg })
        .setSubject('rsa-user')
        .setExpirationTime('1h')
        .sign(privateKey);
      const c = await RawClient.connect(server.url, { token: t });
      expect(await c.next('welcome')).toMatchObject({ user: 'rsa-user' });
      // An HS256 token made with the public key as the secret is the classic confusion attack.
      const confused = await signToken(await exportSPKI(publicKey), { user: 'mallory' });
      expect((await refusedStatus(server.url, { headers: { authorization: `Bearer ${confused}` } })).status).toBe(401);
    }
  });

  it('verifies tokens against a JWKS URL', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks?.listen(0, '127.0.0.1', r));
    const { port } = jwks.address() as AddressInfo;
    const server = await startServer({ auth: { jwksUrl: `http://127.0.0.1:${port}/jwks.json` } });
    const t = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('jwks-user')
      .setExpirationTime('1h')
      .sign(privateKey);
    const c = await RawClient.connect(server.url, { token: t });
    expect(await c.next('welcome')).toMatchObject({ user: 'jwks-user' });
    expect((await refusedStatus(server.url, { headers: { authorization: `Bearer ${await token()}` } })).status).toBe(
      401,
    );
  });

  it('uses a custom authenticate hook, refusing with 401 when it returns null or throws', async () => {
    const server = await startServer({
      auth: {
        authenticate: (req) => {
          const key = req.headers['x-session'];
          if (key === 'throw') throw new Error('session store down');
          return key === 'good' ? { user: 'hooked', info: { via: 'hook' } } : null;
        },
      },
    });
    const c = await RawClient.connect(server.url, { headers: { 'x-session': 'good' } });
    expect(await c.next('welcome')).toMatchObject({ user: 'hooked' });
    expect((await refusedStatus(server.url, { headers: { 'x-session': 'bad' } })).status).toBe(401);
    expect((await refusedStatus(server.url, { headers: { 'x-session': 'throw' } })).status).toBe(401);
    // No verifyToken hook and no JWT key: refresh cannot be verified.
    expect(await c.request({ type: 'refresh', token: 'whatever' })).toMatchObject({
      ok: false,
      error: { code: 'unauthorized' },
    });
  });
});

describe('token lifetime', () => {
  it('closes with 4001 at the token expiry when no refresh arrived', async () => {
    const server = await startServer();
    const c = await RawClient.connect(server.url, { token: await token('alice', { expiresIn: 2 }) });
    const welcome = await c.next('welcome');
    const started = Date.now();
    const { code } = await c.closed;
    expect(code).toBe(4001);
    expect(Date.now()).toBeGreaterThanOrEqual((welcome.expiresAt as number) - 50);
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('extends the session on refresh, and refuses a token of another user or a bad one', async () => {
    const server = await startServer({ heartbeat: { interval: 200, timeout: 5_000 } });
    const c = await RawClient.connect(server.url, {
      token: await token('alice', { expiresIn: 2 }),
      answerPings: false,
    });
    const welcome = await c.next('welcome');
    expect(await c.request({ type: 'refresh', token: await token('bob') })).toMatchObject({
      ok: false,
      error: { code: 'unauthorized' },
    });
    expect(await c.request({ type: 'refresh', token: 'garbage' })).toMatchObject({
      ok: false,
      error: { code: 'unauthorized', message: 'invalid token' },
    });
    const result = await c.ok({ type: 'refresh', token: await token('alice', { expiresIn: 600 }) });
    expect(result.expiresAt).toBeGreaterThan(Date.now() + 500_000);
    // Still open past the first token's expiry: answer the server's pings until then.
    await waitFor(
      async () => {
        await c.next('ping');
        c.send({ type: 'pong' });
        return Date.now() > (welcome.expiresAt as number) + 300;
      },
      5_000,
      'the old expiry to pass',
    );
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });
});

describe('tokens stay out of logs', () => {
  it('never writes a token to the log, even at trace level with refused and accepted connections', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const server = await startServer({ logger: pino({ level: 'trace' }, sink) });
    const good = await token('alice');
    const c = await RawClient.connect(`${server.url}?token=${good}`);
    await c.next('welcome');
    await refusedStatus(`${server.url}?token=${good}x`);
    await c.request({ type: 'refresh', token: `${good}y` });
    c.close();
    await c.closed;
    await waitFor(() => lines.length > 2, 2_000, 'log lines');
    const all = lines.join('\n');
    expect(all).toMatch(/auth refused/);
    expect(all).not.toContain(good.split('.')[2]);
    expect(all).not.toContain('eyJ');
  });
});

describe('signToken lifetimes', () => {
  const exp = (token: string): number =>
    (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { exp: number }).exp;

  it("makes a '1h' token that expires in an hour, and reads a number as seconds", async () => {
    const now = Date.now() / 1000;
    const hour = exp(await signToken(SECRET, { user: 'ada', expiresIn: '1h' }));
    expect(hour).toBeGreaterThanOrEqual(Math.floor(now) + 3600);
    expect(hour).toBeLessThanOrEqual(Math.ceil(now) + 3601);
    expect(exp(await signToken(SECRET, { user: 'ada', expiresIn: '15m' })) - hour).toBeLessThanOrEqual(-2699);
    expect(exp(await signToken(SECRET, { user: 'ada', expiresIn: 90 })) - Math.floor(now)).toBeLessThanOrEqual(91);
    expect(exp(await signToken(SECRET, { user: 'ada' })) - hour).toBeLessThanOrEqual(1);
  });

  it('refuses a lifetime that is not one, with an error naming the option', async () => {
    for (const expiresIn of ['an hour', '1y', -5, 0, Number.NaN, '0s'])
      await expect(signToken(SECRET, { user: 'ada', expiresIn })).rejects.toThrow(/signToken: expiresIn/);
  });
});
