/**
 * `@tether/vue/share`: `createTether` with `share: 'tabs'` — the tabs of one origin and one user
 * share one connection (see `@tether/client/share`). The same plugin as `@tether/vue`'s, built on
 * `@tether/client/share`'s `createClient`; a separate entry so that an app that does not share
 * never bundles the sharing code. Every composable of `@tether/vue` works with it unchanged.
 * @module
 */
import { createClient, type ShareOptions } from '@tether/client/share';
import { type TetherPlugin, type TetherPluginOptions, tetherPlugin } from './plugin.js';

/** Options of this entry's {@link createTether}: `@tether/vue`'s, plus `share`, `shareKey` and `worker`. */
export interface SharedTetherOptions extends TetherPluginOptions, ShareOptions {}

/**
 * `@tether/vue`'s `createTether`, plus `share: 'tabs'` (without it, the same as `@tether/vue`'s).
 * Synchronous like it: the client exists once the plugin is installed; the tab joins its group on `connect()`.
 * @example
 * import { createTether } from '@tether/vue/share'
 * app.use(createTether({ url: '/ws', token: getToken, share: 'tabs' }))
 */
export function createTether(options: SharedTetherOptions): TetherPlugin {
  return tetherPlugin(options, createClient);
}
