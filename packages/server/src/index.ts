/**
 * `@tether/server`: the Tether server on `ws` — authentication before the upgrade, channels with
 * history and recovery, presence, RPC, the HTTP API, limits, draining and metrics.
 * @example
 * import { createServer } from '@tether/server';
 * const tether = createServer({ port: 8088, auth: { jwtSecret: process.env.TETHER_JWT_SECRET } });
 * await tether.listen();
 * @module
 */
export {
  AuthError,
  type AuthOptions,
  extractToken,
  type Identity,
  originAllowed,
  type SignTokenOptions,
  signToken,
} from './auth.js';
export * from './broker.js';
export { type Duration, toMs } from '@tether/protocol';
export type { Logger } from './logger.js';
export { type MemoryBrokerOptions, memoryBroker } from './memory-broker.js';
export {
  type ChannelPolicy,
  DEFAULT_NAMESPACE,
  matchChannel,
  type NamespaceOptions,
  type PublishPolicy,
  type SubscribePolicy,
} from './namespaces.js';
export { subscribeResult } from './recovery.js';
export { RpcError } from './rpc-error.js';
export {
  type AuthorizeHook,
  type ChannelAction,
  type ClientContext,
  type CloseOptions,
  createServer,
  type HeartbeatOptions,
  type LimitOptions,
  type PublishOptions as ServerPublishOptions,
  type RpcHandler,
  type ServerOptions,
  type TetherServer,
} from './server.js';
export { type SqliteBrokerOptions, sqliteBroker } from './sqlite-broker.js';
export { type StaticOptions, serveStatic } from './static-files.js';
