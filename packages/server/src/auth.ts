/**
 * Authentication before the upgrade: where the token comes from and how it is verified (JWT
 * via `jose`, or the application's own hook). The `Origin` check is in `origin.ts`.
 * @module
 */
import { createHash, createPublicKey, type KeyObject, timingSafeEqual, webcrypto } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type Duration, toMs } from '@tether/protocol';
import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify, SignJWT } from 'jose';

/** Who a connection belongs to, as established by its token. */
export interface Identity {
  /** User id (`sub`). Several connections (tabs, devices) may share one. */
  user: string;
  /** Public information shown to others in presence (`info` claim). */
  info?: unknown;
  /** Channel patterns the token allows (`channels` claim), e.g. `['room:*']`; absent = no restriction. */
  channels?: string[];
  /** When the token expires, ms since the epoch (`exp` claim). The connection is closed with 4001 then. */
  expiresAt?: number;
  /** An operator (`admin: true` claim): may watch the admin channel and use the admin API. */
  admin?: boolean;
}

type MaybePromise<T> = T | Promise<T>;

/** How connections authenticate. Give a JWT key (one of three kinds) or your own hooks. */
export interface AuthOptions {
  /** HS256 shared secret. */
  jwtSecret?: string | Uint8Array;
  /** RS256 or ES256 public key: PEM (SPKI) text or a `KeyObject`. */
  publicKey?: string | KeyObject;
  /** URL of a JWKS document (RS256/ES256 keys), fetched and cached by `jose`. */
  jwksUrl?: string | URL;
  /** Required `iss` claim, when set. */
  issuer?: string;
  /** Required `aud` claim, when set. */
  audience?: string;
  /**
   * Refuse tokens without an `exp` claim (401), so no connection can live forever on one token.
   * With the `authenticate`/`verifyToken` hooks, an identity without `expiresAt` is refused too.
   * @default false
   */
  requireExp?: boolean;
  /**
   * Replaces token verification at the upgrade: return the identity, or `null` to refuse with 401.
   * A hook that throws also refuses with 401 (and is logged).
   */
  authenticate?: (request: IncomingMessage) => MaybePromise<Identity | null | undefined>;
  /**
   * Verifies the token of a `refresh` frame when `authenticate` is used; without it (and without
   * a JWT key) `refresh` is answered `unauthorized`.
   */
  verifyToken?: (token: string) => MaybePromise<Identity | null | undefined>;
}

/** Why authentication failed; `status` is the HTTP status the upgrade is refused with. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    message: string,
    readonly status: 401 | 503 = 401,
  ) {
    super(message);
  }
}

/** The credential of an `Authorization: Bearer <credential>` header, if it has that shape. */
export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The constant-time check of an `Authorization: Bearer <api key>` header against `apiKey`;
 * always false when there is no key.
 */
export function apiKeyCheck(apiKey: string | undefined): (header: string | undefined) => boolean {
  const expected = apiKey ? sha256(apiKey) : undefined;
  return (header) => {
    const given = bearer(header);
    // Hashing first makes both sides the same length, so the comparison time says nothing about the key.
    return expected !== undefined && given !== undefined && timingSafeEqual(sha256(given), expected);
  };
}

/** The token of an upgrade request: `Authorization: Bearer`, then `?token=`, then the `token` cookie. */
export function extractToken(req: IncomingMessage): string | undefined {
  const fromHeader = bearer(req.headers.authorization);
  if (fromHeader) return fromHeader;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q >= 0) {
    const fromQuery = new URLSearchParams(url.slice(q + 1)).get('token');
    if (fromQuery) return fromQuery;
  }
  const cookie = req.headers.cookie;
  if (cookie) {
    for (const part of cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== 'token') continue;
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw) || undefined;
      } catch {
        return raw || undefined;
      }
    }
  }
  return undefined;
}

export { originAllowed } from './origin.js';

/** Verifies tokens: the shape `createServer` uses for both the upgrade and `refresh`. */
export interface Authenticator {
  request(req: IncomingMessage): Promise<Identity>;
  token(token: string): Promise<Identity>;
}

const encoder = new TextEncoder();

function identityFrom(payload: Record<string, unknown>): Identity {
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new AuthError('token has no "sub"');
  // `user` and `expiresAt` in one literal: both live inside the object (a field added later would
  // need a separate property store, 40 B for every connection).
  const identity: Identity =
    typeof payload.exp === 'number' ? { user: payload.sub, expiresAt: payload.exp * 1000 } : { user: payload.sub };
  if (payload.info !== undefined) identity.info = payload.info;
  if (payload.channels !== undefined) {
    if (!Array.isArray(payload.channels) || !payload.channels.every((c) => typeof c === 'string'))
      throw new AuthError('token "channels" must be an array of strings');
    identity.channels = payload.channels;
  }
  if (payload.admin === true) identity.admin = true;
  return identity;
}

function checkIdentity(value: Identity | null | undefined, requireExp: boolean): Identity {
  if (!value) throw new AuthError('not authenticated');
  if (typeof value.user !== 'string' || value.user === '')
    throw new TypeError('authenticate() must return { user: string, ... } or null');
  if (requireExp && value.expiresAt === undefined) throw new AuthError('identity has no expiresAt');
  return value;
}

/** Builds the authenticator for `options`; throws `TypeError` when nothing can verify a token. */
export function createAuthenticator(options: AuthOptions): Authenticator {
  const kinds = [options.jwtSecret, options.publicKey, options.jwksUrl].filter((k) => k !== undefined).length;
  if (kinds > 1) throw new TypeError('auth: give only one of jwtSecret, publicKey and jwksUrl');
  if (kinds === 0 && !options.authenticate)
    throw new TypeError('auth: give jwtSecret, publicKey, jwksUrl or an authenticate(request) hook');

  const requireExp = options.requireExp === true;
  let verifyJwt: ((token: string) => Promise<Identity>) | undefined;
  if (kinds === 1) {
    let key: Promise<webcrypto.CryptoKey> | KeyObject | JWTVerifyGetKey;
    let algorithms: string[];
    if (options.jwtSecret !== undefined) {
      const secret = typeof options.jwtSecret === 'string' ? encoder.encode(options.jwtSecret) : options.jwtSecret;
      if (secret.length === 0) throw new TypeError('auth.jwtSecret must not be empty');
      // Imported once: handed the bytes, `jose` imports a WebCrypto key on every verify (most of
      // an upgrade's CPU). A rejection surfaces at the first verify, as "invalid token".
      key = webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
      key.catch(() => {});
      algorithms = ['HS256'];
    } else if (options.publicKey !== undefined) {
      const publicKey = typeof options.publicKey === 'string' ? createPublicKey(options.publicKey) : options.publicKey;
      const type = publicKey.asymmetricKeyType;
      if (type !== 'rsa' && type !== 'ec')
        throw new TypeError('auth.publicKey must be an RSA (RS256) or EC (ES256) key');
      key = publicKey;
      algorithms = type === 'rsa' ? ['RS256'] : ['ES256'];
    } else {
      key = createRemoteJWKSet(new URL(String(options.jwksUrl)));
      algorithms = ['RS256', 'ES256'];
    }
    const verifyOptions = {
      algorithms,
      ...(options.issuer !== undefined && { issuer: options.issuer }),
      ...(options.audience !== undefined && { audience: options.audience }),
      ...(options.requireExp === true && { requiredClaims: ['exp'] }),
    };
    verifyJwt = async (token) => {
      try {
        // `algorithms` pins the accepted algorithms: `alg: none` and algorithm confusion are refused.
        const { payload } =
          typeof key === 'function'
            ? await jwtVerify(token, key, verifyOptions)
            : await jwtVerify(token, await key, verifyOptions);
        return identityFrom(payload);
      } catch (err) {
        if (err instanceof AuthError) throw err;
        if (err instanceof errors.JWKSTimeout) throw new AuthError('key set unreachable', 503);
        if (err instanceof errors.JWTExpired) throw new AuthError('token expired');
        // Never echo the token or jose's message (which may quote claims) back to the client.
        throw new AuthError('invalid token');
      }
    };
  }

  return {
    async request(req) {
      if (options.authenticate) {
        try {
          return checkIdentity(await options.authenticate(req), requireExp);
        } catch (err) {
          if (err instanceof AuthError || err instanceof TypeError) throw err;
          throw new AuthError('authenticate() failed');
        }
      }
      const token = extractToken(req);
      if (!token) throw new AuthError('no token');
      return (verifyJwt as (token: string) => Promise<Identity>)(token);
    },
    async token(token) {
      if (options.verifyToken) {
        try {
          return checkIdentity(await options.verifyToken(token), requireExp);
        } catch (err) {
          if (err instanceof AuthError || err instanceof TypeError) throw err;
          throw new AuthError('verifyToken() failed');
        }
      }
      if (!verifyJwt) throw new AuthError('refresh is not supported by this server');
      return verifyJwt(token);
    },
  };
}

/** `expiresIn` in whole seconds: a Duration string, or a number already in seconds. */
function lifetimeSeconds(expiresIn: Duration): number {
  const seconds =
    typeof expiresIn === 'number' ? expiresIn : Math.round(toMs(expiresIn, 'signToken: expiresIn') / 1000);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new RangeError(
      `signToken: expiresIn must be a positive number of seconds or a string such as '1h', got ${JSON.stringify(expiresIn)}`,
    );
  return seconds;
}

/** Claims for {@link signToken}. */
export interface SignTokenOptions {
  user: string;
  info?: unknown;
  channels?: string[];
  /** Sets the `admin: true` claim (operators: the admin channel and API). @default false */
  admin?: boolean;
  /**
   * Lifetime: a duration string as elsewhere in the API (`'15m'`, `'1h'`, `'7d'`), or a number of
   * **seconds** (the unit of the JWT `exp` claim). Anything else throws `RangeError`.
   * @default '1h'
   */
  expiresIn?: Duration;
}

/**
 * Signs an HS256 token the server accepts: for your login endpoint, tests and the dev login.
 * @example
 * const token = await signToken(process.env.TETHER_JWT_SECRET, { user: '42', info: { name: 'Ada' } });
 */
export async function signToken(secret: string | Uint8Array, options: SignTokenOptions): Promise<string> {
  if (typeof options.user !== 'string' || options.user === '')
    throw new TypeError('signToken: user must be a non-empty string');
  const claims: Record<string, unknown> = {};
  if (options.info !== undefined) claims.info = options.info;
  if (options.channels !== undefined) claims.channels = options.channels;
  if (options.admin === true) claims.admin = true;
  const key = typeof secret === 'string' ? encoder.encode(secret) : secret;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.user)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + lifetimeSeconds(options.expiresIn ?? '1h'))
    .sign(key);
}
