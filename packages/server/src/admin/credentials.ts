/**
 * Who is an operator: the API key, or a token with `admin: true` — sent as
 * `Authorization: Bearer`, or exchanged at `/admin/login` for a session cookie. The cookie is
 * HttpOnly and SameSite=Strict; an API-key session is `k.<expiry>.<HMAC of it under the API key>`
 * (so every node sharing the key accepts it), a token session is the token itself.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AuthError, type Authenticator, apiKeyCheck, bearer, type Identity } from '../auth.js';

export const COOKIE = 'tether_admin';
/** How long an API-key login lasts. */
const SESSION_MS = 12 * 60 * 60 * 1000;

/** An authenticated operator. */
export interface Operator {
  user: string;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

export class Credentials {
  private readonly keyValid: (header: string | undefined) => boolean;

  constructor(
    private readonly apiKey: string | undefined,
    private readonly auth: Authenticator,
  ) {
    this.keyValid = apiKeyCheck(apiKey);
  }

  /** An operator token (`admin: true`), verified like a connection's. */
  private async token(token: string): Promise<Operator | undefined> {
    try {
      const identity = await this.auth.token(token);
      return identity.admin === true ? { user: identity.user } : undefined;
    } catch {
      return undefined;
    }
  }

  private mac(expiry: string): Buffer {
    return createHmac('sha256', this.apiKey as string)
      .update(`tether-admin-session:${expiry}`)
      .digest();
  }

  /** `Authorization: Bearer <api key | admin token>`. */
  async bearer(header: string | undefined): Promise<Operator | undefined> {
    if (this.keyValid(header)) return { user: 'admin' };
    const given = bearer(header);
    return given ? this.token(given) : undefined;
  }

  /** The session cookie of `/admin/login`. */
  async cookie(header: string | undefined): Promise<Operator | undefined> {
    const value = cookieValue(header, COOKIE);
    if (!value) return undefined;
    if (value.startsWith('j.')) return this.token(value.slice(2));
    const [kind, expiry, mac] = value.split('.');
    if (kind !== 'k' || !expiry || !mac || !this.apiKey || !(Number(expiry) > Date.now())) return undefined;
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(expiry);
    return given.length === expected.length && timingSafeEqual(given, expected) ? { user: 'admin' } : undefined;
  }

  /** Bearer first, then the cookie. */
  async request(req: IncomingMessage): Promise<Operator | undefined> {
    return (await this.bearer(req.headers.authorization)) ?? (await this.cookie(req.headers.cookie));
  }

  /** What was typed at the login: the cookie to set, or undefined when it is neither the key nor an admin token. */
  async login(secret: string): Promise<string | undefined> {
    if (this.keyValid(`Bearer ${secret}`)) {
      const expiry = String(Date.now() + SESSION_MS);
      return `k.${expiry}.${this.mac(expiry).toString('base64url')}`;
    }
    return (await this.token(secret)) ? `j.${secret}` : undefined;
  }

  /**
   * The authenticator for upgrades: a request with `?admin=1` is the admin page and must carry
   * the session cookie; every other request goes to `inner`.
   */
  upgrades(inner: Authenticator): Authenticator {
    return {
      request: async (req) => {
        if (!isAdminUpgrade(req)) return inner.request(req);
        const operator = await this.cookie(req.headers.cookie);
        if (!operator) throw new AuthError('not an operator');
        const identity: Identity = { user: operator.user, admin: true };
        return identity;
      },
      token: (token) => inner.token(token),
    };
  }
}

function isAdminUpgrade(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q >= 0 && new URLSearchParams(url.slice(q + 1)).has('admin');
}

/** `Set-Cookie` for a session (`value`) or for logging out (undefined). */
export function sessionCookie(value: string | undefined): string {
  const base = `${COOKIE}=${value ?? ''}; Path=/; HttpOnly; SameSite=Strict`;
  return value === undefined ? `${base}; Max-Age=0` : `${base}; Max-Age=${SESSION_MS / 1000}`;
}
