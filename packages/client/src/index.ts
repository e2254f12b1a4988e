/**
 * `@tether/client`: an isomorphic Tether client (browsers, and Node with `ws`).
 * @module
 */
export { backoff, DEFAULT_RECONNECT, type ReconnectOptions, reconnectDelay } from './backoff.js';
export {
  type ClientEvents,
  type ClientOptions,
  type ClientStats,
  type CloseContext,
  createClient,
  HEALTHY_AFTER,
  type HeartbeatOptions,
  type OpenContext,
  type ReconnectingContext,
  type TetherClient,
} from './client.js';
export { Emitter, type EventMap, type Listener } from './emitter.js';
export { DisconnectedError, QueueFullError, ServerError, TetherError, TimeoutError } from './errors.js';
export { WebSocketManager, type WebSocketManagerOptions } from './manager.js';
export { type ClientState, canTransition, TRANSITIONS } from './state.js';
export {
  type GapContext,
  type PresenceEvent,
  type PublishOptions,
  type SubscribeOptions,
  Subscription,
  type SubscriptionEvents,
  type SubscriptionState,
} from './subscription.js';
export type { RawData, WebSocketConstructor, WebSocketLike } from './transport.js';
