/**
 * `@tether/server`: the Tether server on `ws` — authentication before the upgrade, channels with
 * history and recovery, presence, RPC, the HTTP API, limits, draining and metrics. The broker
 * and presence contracts (and their in-memory implementations) come from `@tether/broker` and are
 * re-exported here.
 * @example
 * import { createServer } from '@tether/server';
 * const tether = createServer({ port: 8088, auth: { jwtSecret: process.env.TETHER_JWT_SECRET } });
 * await tether.listen();
 * @module
 */
import type { BrokerPublishOptions } from '@tether/broker';

export * from '@tether/broker';
/** @deprecated Renamed `BrokerPublishOptions` (`ServerPublishOptions` is `tether.publish`'s). */
export type PublishOptions = BrokerPublishOptions;
export { type Duration, toMs } from '@tether/protocol';
export {
  AuthError,
  type AuthOptions,
  extractToken,
  type Identity,
  originAllowed,
  type SignTokenOptions,
  signToken,
} from './auth.js';
export type { ClientContext } from './client-context.js';
export type { Logger } from './logger.js';
export {
  type ChannelPolicy,
  DEFAULT_NAMESPACE,
  matchChannel,
  type NamespaceOptions,
  type PublishPolicy,
  type SubscribePolicy,
} from './namespaces.js';
export {
  type AuthorizeHook,
  type ChannelAction,
  type CloseOptions,
  DEFAULTS as SERVER_DEFAULTS,
  type HeartbeatOptions,
  type LimitOptions,
  type RpcHandler,
  type ServerHeartbeatOptions,
  type ServerOptions,
  type ServerPublishOptions,
} from './options.js';
export { subscribeResult } from './recovery.js';
export { RpcError } from './rpc-error.js';
export { createServer, type TetherServer } from './server.js';
export { type SqliteBrokerOptions, sqliteBroker } from './sqlite-lazy.js';
export { type StaticOptions, serveStatic } from './static-files.js';
