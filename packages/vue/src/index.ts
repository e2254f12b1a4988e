/**
 * `@tether/vue`: Vue 3 bindings for Tether — one shared client per app (`createTether`), reactive
 * connection state (`useTether`), reference-counted channels (`useChannel`), presence
 * (`usePresence`) and the seed-compatible `useWebSocket`. The Pinia chat store is the
 * `@tether/vue/chat` subpath, so Pinia stays optional.
 * @module
 */
export { type ChannelStatus, type PresenceClient, TETHER_KEY, type TetherContext } from './context.js';
export {
  createTether,
  type TetherPlugin,
  type TetherPluginOptions,
  type UseTetherReturn,
  useTether,
} from './plugin.js';
export { type PublishResult, type UseChannelOptions, type UseChannelReturn, useChannel } from './use-channel.js';
export { type UsePresenceReturn, usePresence } from './use-presence.js';
export {
  cookieToken,
  NOTICE_EVENT,
  type UseWebSocketOptions,
  type UseWebSocketReturn,
  useWebSocket,
  type WebSocketNotice,
} from './use-web-socket.js';
