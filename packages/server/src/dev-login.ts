/**
 * The development login, `POST /api/dev/login {user, info?, channels?}`: a token for anyone,
 * signed with `auth.jwtSecret`. Registered only when `devLogin` is on, and refused in production.
 * @module
 */
import { signToken } from './auth.js';
import type { ServerOptions } from './options.js';
import { RpcError } from './rpc-error.js';

/** Longest user id the development login signs a token for. */
const MAX_USER_LENGTH = 128;

/** The login handler when `options.devLogin` is on, else `undefined`; throws `TypeError` when it may not be on. */
export function createDevLogin(options: ServerOptions): ((body: unknown) => Promise<{ token: string }>) | undefined {
  if (!options.devLogin) return undefined;
  if (process.env.NODE_ENV === 'production')
    throw new TypeError('devLogin issues tokens to anyone: it is refused when NODE_ENV=production');
  const secret = options.auth.jwtSecret;
  if (secret === undefined) throw new TypeError('devLogin needs auth.jwtSecret to sign tokens');
  return async (body) => {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (typeof b.user !== 'string' || b.user === '' || b.user.length > MAX_USER_LENGTH)
      throw new RpcError('bad_request', 'body must be {user: string, info?, channels?}');
    if (b.channels !== undefined && (!Array.isArray(b.channels) || !b.channels.every((c) => typeof c === 'string')))
      throw new RpcError('bad_request', '"channels" must be an array of strings');
    const token = await signToken(secret, {
      user: b.user,
      ...(b.info !== undefined && { info: b.info }),
      ...(b.channels !== undefined && { channels: b.channels as string[] }),
    });
    return { token };
  };
}
