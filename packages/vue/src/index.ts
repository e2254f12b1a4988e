/**
 * `@tether/vue`: Vue 3 bindings for Tether — one shared client per app (`createTether`), reactive
 * connection state (`useTether`), reference-counted channels (`useChannel`), presence
 * (`usePresence`) and the seed-compatible `useWebSocket`. The Pinia chat store is the
 * `@tether/vue/chat` subpath, so Pinia stays optional; `createTether` with `share: 'tabs'` is
 * `@tether/vue/share`, so only apps that share bundle the sharing code.
 * @module
 */
/** Protocol types composables return, re-exported (one name, one type) so apps need not import them elsewhere. */
export type { PresenceClient, PublishResult } from '@tether/client';
export { type ChannelStatus, TETHER_KEY, type TetherContext } from './context.js';
export {
  createTether,
  type TetherPlugin,
  type TetherPluginOptions,
  type UseTetherReturn,
  useTether,
} from './plugin.js';
export { type UseChannelOptions, type UseChannelReturn, useChannel } from './use-channel.js';
export { type UsePresenceReturn, usePresence } from './use-presence.js';
export {
  cookieToken,
  NOTICE_EVENT,
  type UseWebSocketOptions,
  type UseWebSocketReturn,
  useWebSocket,
  type WebSocketNotice,
} from './use-web-socket.js';
