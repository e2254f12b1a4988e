/**
 * The admin dashboard's server side, put together for `createServer`: options, the reserved
 * namespace and its access rule, the upgrade authenticator, and the HTTP routes.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Duration, toMs } from '@tether/protocol';
import type { Authenticator, AuthOptions } from '../auth.js';
import type { NamespaceOptions } from '../namespaces.js';
import type { AuthorizeHook } from '../options.js';
import { serveStatic } from '../static-files.js';
import { Admin, type AdminDeps } from './admin.js';
import { Credentials } from './credentials.js';
import { pageDir } from './page.js';
import { type AdminRoutesDeps, adminRoutes } from './routes.js';
import { ADMIN_NAMESPACE, STATS_CHANNEL } from './types.js';

/** `createServer({ admin })`. */
export interface AdminOptions {
  /**
   * The built admin page served at `/admin`: a folder, or `false` for the channel and API only.
   * @default the `dist` of the optional package `@tether/admin`
   */
  page?: string | false;
  /** Time between snapshots on the admin channel while someone watches. @default '1s' */
  interval?: Duration;
  /** A node's announcement expires this long after its last refresh (every third of it). @default '15s' */
  lease?: Duration;
}

export const ADMIN_DEFAULTS = { interval: '1s', lease: '15s' } as const;

/** The admin namespace's policy: only server code publishes, no presence, no history. */
export function adminNamespaces(config: Record<string, NamespaceOptions> = {}): Record<string, NamespaceOptions> {
  return { ...config, [ADMIN_NAMESPACE]: { publish: 'server', presence: false, history: false } };
}

/** Only operators subscribe to the stats channel; nobody uses the rest of the namespace. */
export function adminAuthorize(inner: AuthorizeHook | undefined): AuthorizeHook {
  return (ctx, channel, action) => {
    if (channel.startsWith(`${ADMIN_NAMESPACE}:`))
      return action === 'subscribe' && channel === STATS_CHANNEL && ctx.admin === true;
    return inner?.(ctx, channel, action);
  };
}

export interface AdminSetup {
  admin: Admin;
  authenticator: Authenticator;
  handle: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface AdminSetupDeps extends Omit<AdminDeps, 'interval' | 'lease'> {
  options: AdminOptions | true;
  auth: AuthOptions;
  apiKey: string | undefined;
  /** The connections' authenticator (also verifies admin tokens). */
  authenticator: Authenticator;
  routes: Omit<AdminRoutesDeps, 'admin' | 'credentials' | 'page' | 'logger'>;
}

/** Checks the options (throws `TypeError`) and builds the admin parts. */
export function setupAdmin(d: AdminSetupDeps): AdminSetup {
  const o: AdminOptions = d.options === true ? {} : d.options;
  const { auth } = d;
  const tokens = [auth.jwtSecret, auth.publicKey, auth.jwksUrl, auth.verifyToken].some((k) => k !== undefined);
  if (!d.apiKey && !tokens)
    throw new TypeError(
      'admin: no way to authenticate operators: set apiKey, or verify tokens (jwtSecret, publicKey, jwksUrl or verifyToken) carrying admin: true',
    );
  const interval = Math.max(50, toMs(o.interval ?? ADMIN_DEFAULTS.interval, 'admin.interval'));
  const lease = Math.max(300, toMs(o.lease ?? ADMIN_DEFAULTS.lease, 'admin.lease'));
  const page = o.page === false ? undefined : serveStatic(pageDir(o.page));
  const admin = new Admin({ ...d, interval, lease });
  const credentials = new Credentials(d.apiKey, d.authenticator);
  return {
    admin,
    authenticator: credentials.upgrades(d.authenticator),
    handle: adminRoutes({ ...d.routes, admin, credentials, page, logger: d.logger }),
  };
}

export { OPERATOR_CLOSE } from './admin.js';
export * from './types.js';
