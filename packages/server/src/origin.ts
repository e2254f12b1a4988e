/**
 * The `Origin` check of an upgrade: the defence against Cross-Site WebSocket Hijacking, where a
 * foreign page opens a socket that carries the user's cookie.
 * @module
 */
import type { IncomingMessage } from 'node:http';

/**
 * The scheme a browser used to reach this server: `https` over TLS, or when a TLS-terminating
 * proxy says so with `X-Forwarded-Proto: https` (a browser page cannot set that header on a
 * WebSocket), else `http`.
 */
function ownScheme(req: IncomingMessage): 'http:' | 'https:' {
  if ((req.socket as { encrypted?: boolean } | undefined)?.encrypted) return 'https:';
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return first === 'https' ? 'https:' : 'http:';
}

/**
 * May a request with this `Origin` open a socket? No `Origin` (not a browser): yes, the token
 * decides. Otherwise the origin must be listed (scheme, host and port; `'*'` allows all) or be
 * the server's own: the same host **and** the same scheme (see `ownScheme`), so a page on
 * `https://host` is not the origin of an `http` server on that host.
 */
export function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    const url = new URL(origin);
    if (allowed.includes(url.origin)) return true;
    return url.host !== '' && url.host === req.headers.host && url.protocol === ownScheme(req);
  } catch {
    return false;
  }
}
