/**
 * Attacks on the token: `alg: none`, HS/RS key confusion (an HS256 token signed with the RSA
 * public key as its secret), a wrong issuer or audience, expired and not-yet-valid tokens, a
 * token without `exp`, and a `refresh` to another user's identity.
 */
import { createPublicKey } from 'node:crypto';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, connectAs, RawClient, refusedStatus, SECRET, startServer, token } from '../helpers.js';

afterEach(cleanup);

const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);
const hs = (secret: string | Uint8Array): Uint8Array =>
  typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;

/** The HTTP status an upgrade with `t` in the Authorization header is refused with (throws if it opens). */
async function refused(url: string, t: string): Promise<number> {
  return (await refusedStatus(url, { headers: { authorization: `Bearer ${t}` } })).status;
}

describe('algorithm attacks', () => {
  it('refuses alg:none, with or without a signature, on HS256 and RS256 servers', async () => {
    const { publicKey } = await generateKeyPair('RS256');
    const hsServer = await startServer();
    const rsServer = await startServer({ auth: { publicKey: await exportSPKI(publicKey) } });
    const forged = [
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'mallory', exp: now() + 3600 })}.`,
      `${b64({ alg: 'none' })}.${b64({ sub: 'mallory' })}.c2ln`,
      `${b64({ alg: 'NONE' })}.${b64({ sub: 'mallory' })}.`,
    ];
    for (const server of [hsServer, rsServer]) for (const t of forged) expect(await refused(server.url, t)).toBe(401);
  });

  it('refuses an HS256 token signed with the server’s RSA public key (key confusion)', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const pem = await exportSPKI(publicKey);
    const server = await startServer({ auth: { publicKey: pem } });
    // The classic attack: the public key, known to everyone, used as an HMAC secret.
    const confused = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime(now() + 3600)
      .sign(hs(pem));
    const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    const confusedDer = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime(now() + 3600)
      .sign(new Uint8Array(der));
    expect(await refused(server.url, confused)).toBe(401);
    expect(await refused(server.url, confusedDer)).toBe(401);
    // The genuine RS256 token of the same claims is accepted: the refusal is about the algorithm.
    const genuine = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('ann')
      .setExpirationTime(now() + 3600)
      .sign(privateKey);
    const c = await RawClient.connect(server.url, { token: genuine });
    expect(await c.next('welcome')).toMatchObject({ user: 'ann' });
  });

  it('refuses an RS256 token on an HS256 server, whatever key signed it', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const server = await startServer();
    const rs = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('mallory').sign(privateKey);
    expect(await refused(server.url, rs)).toBe(401);
  });
});

describe('claims', () => {
  const sign = (claims: { iss?: string; aud?: string; exp?: number; nbf?: number }): Promise<string> => {
    const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ann');
    if (claims.iss !== undefined) jwt.setIssuer(claims.iss);
    if (claims.aud !== undefined) jwt.setAudience(claims.aud);
    if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
    if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
    return jwt.sign(hs(SECRET));
  };

  it('requires the configured issuer and audience', async () => {
    const server = await startServer({ auth: { jwtSecret: SECRET, issuer: 'https://id.example', audience: 'tether' } });
    const exp = now() + 3600;
    expect(await refused(server.url, await sign({ exp }))).toBe(401);
    expect(await refused(server.url, await sign({ exp, iss: 'https://evil.example', aud: 'tether' }))).toBe(401);
    expect(await refused(server.url, await sign({ exp, iss: 'https://id.example', aud: 'other' }))).toBe(401);
    const ok = await RawClient.connect(server.url, {
      token: await sign({ exp, iss: 'https://id.example', aud: 'tether' }),
    });
    expect(await ok.next('welcome')).toMatchObject({ user: 'ann' });
  });

  it('refuses expired and not-yet-valid tokens', async () => {
    const server = await startServer();
    expect(await refused(server.url, await sign({ exp: now() - 5 }))).toBe(401);
    expect(await refused(server.url, await sign({ exp: now() + 3600, nbf: now() + 600 }))).toBe(401);
  });

  it('refuses a token without exp when auth.requireExp is set, and accepts it otherwise', async () => {
    const noExp = await sign({});
    const lenient = await startServer();
    const c = await RawClient.connect(lenient.url, { token: noExp });
    expect((await c.next('welcome')).expiresAt).toBeUndefined();
    const strict = await startServer({ auth: { jwtSecret: SECRET, requireExp: true } });
    expect(await refused(strict.url, noExp)).toBe(401);
    const withExp = await RawClient.connect(strict.url, { token: await sign({ exp: now() + 60 }) });
    expect(await withExp.next('welcome')).toMatchObject({ user: 'ann' });
  });
});

describe('refresh', () => {
  it('never switches a connection to another user, and a forged refresh changes nothing', async () => {
    const server = await startServer();
    const ann = await connectAs(server, 'ann');
    const other = await ann.request({ type: 'refresh', token: await token('bob') });
    expect(other).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    const none = `${b64({ alg: 'none' })}.${b64({ sub: 'ann', exp: now() + 999_999 })}.`;
    expect(await ann.request({ type: 'refresh', token: none })).toMatchObject({
      ok: false,
      error: { code: 'unauthorized' },
    });
    // Still ann, still allowed her own channel and not bob's.
    expect((await ann.request({ type: 'subscribe', channel: 'user:ann' })).ok).toBe(true);
    expect(await ann.request({ type: 'subscribe', channel: 'user:bob' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
  });
});
