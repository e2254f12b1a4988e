/**
 * `@tether/client`: an isomorphic Tether client (browsers, and Node with `ws`).
 * @module
 */
export type { PresenceClient, PresenceResult, PublishResult, RefreshResult } from '@tether/protocol';
export {
  backoff,
  type ClientReconnectOptions,
  DEFAULT_RECONNECT,
  type ReconnectOptions,
  reconnectDelay,
} from './backoff.js';
export { createClient } from './client.js';
export { Emitter, type EventMap, type Listener } from './emitter.js';
export { DisconnectedError, QueueFullError, ServerError, TetherError, TimeoutError } from './errors.js';
export { WebSocketManager, type WebSocketManagerOptions } from './manager.js';
export { CLIENT_DEFAULTS } from './options.js';
export { HEALTHY_AFTER } from './reconnect.js';
export type { RequestKind } from './requests.js';
export { type ClientState, canTransition, TRANSITIONS } from './state.js';
export {
  type ClientPublishOptions,
  type GapContext,
  type PresenceEvent,
  type PresencePageOptions,
  type PublishOptions,
  type SubscribeOptions,
  Subscription,
  type SubscriptionEvents,
  type SubscriptionState,
} from './subscription.js';
export type { RawData, WebSocketConstructor, WebSocketLike } from './transport.js';
export type {
  ClientEvents,
  ClientHeartbeatOptions,
  ClientOptions,
  ClientStats,
  CloseContext,
  HeartbeatOptions,
  OpenContext,
  ReconnectingContext,
  TetherClient,
} from './types.js';
