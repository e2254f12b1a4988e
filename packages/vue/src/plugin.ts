/**
 * `createTether`: the Vue plugin that installs one shared client for the whole app, and
 * `useTether`, its reactive connection state.
 * @module
 */
import { type ClientOptions, type ClientState, createClient, type TetherClient } from '@tether/client';
import { type App, type ComputedRef, computed, hasInjectionContext, inject, type ShallowRef, shallowRef } from 'vue';
import { contextOf, inBrowser, TETHER_KEY, type TetherContext } from './context.js';

/**
 * Options of {@link createTether}: every `createClient` option, plus how the plugin drives the client.
 * (`share: 'tabs'` is `@tether/vue/share`'s `createTether`: the sharing code is bundled only there.)
 */
export interface TetherPluginOptions extends ClientOptions {
  /** Connect as soon as the plugin is installed (browser only; never during SSR). @default true */
  autoConnect?: boolean;
  /** Close the client when the app unmounts. @default true */
  closeOnUnmount?: boolean;
}

/** The plugin, with the client it installs (for use outside components, e.g. in router guards). */
export interface TetherPlugin {
  install(app: App): void;
  /** The shared client; `undefined` during SSR (no connection is made on the server). */
  readonly client: TetherClient | undefined;
}

/**
 * Creates the plugin that installs ONE shared client for the app. During SSR (no `window`) no
 * client is created and every composable is a no-op that reports `idle`. For one connection
 * shared by all the tabs (`share: 'tabs'`), import `createTether` from `@tether/vue/share` instead.
 * @example
 * import { WebSocket } from 'ws' // Node only; browsers have one
 * app.use(createTether({ url: 'ws://localhost:8088/ws', token: () => getToken() }))
 */
export function createTether(options: TetherPluginOptions): TetherPlugin {
  // A JavaScript caller (no types to stop it) would otherwise get a connection per tab, silently.
  if ((options as { share?: unknown } | null)?.share !== undefined)
    throw new TypeError("createTether: share lives in '@tether/vue/share'; import createTether from there");
  return tetherPlugin(options, createClient);
}

/**
 * @internal The plugin around a client factory: `@tether/client`'s `createClient` here,
 * `@tether/client/share`'s in `@tether/vue/share`, so only that entry bundles the sharing code.
 */
export function tetherPlugin<O extends TetherPluginOptions>(
  options: O,
  create: (clientOptions: Omit<O, 'autoConnect' | 'closeOnUnmount'>) => TetherClient,
): TetherPlugin {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('createTether(options): pass the createClient options, e.g. { url, token }');
  const { autoConnect = true, closeOnUnmount = true, ...clientOptions } = options;
  let ctx: TetherContext | undefined;
  return {
    get client() {
      return ctx?.client;
    },
    install(app: App) {
      if (!inBrowser()) {
        app.provide(TETHER_KEY, ssrContext());
        return;
      }
      ctx ??= contextOf(create(clientOptions));
      const mine = ctx;
      app.provide(TETHER_KEY, mine);
      if (autoConnect) void mine.client.connect();
      app.onUnmount(() => {
        mine.dispose();
        if (closeOnUnmount) mine.client.close();
      });
    },
  };
}

/** A context for the server render: state `idle` forever; the client is inert (nothing connects on the server). */
function ssrContext(): TetherContext {
  const refuse = (): Promise<never> =>
    Promise.reject(new TypeError('tether: no connection during SSR; call it from onMounted or an event handler'));
  const noop = (): void => {};
  // `satisfies`: a method added to TetherClient breaks the build here until the stub has it too.
  const inert = {
    state: 'idle',
    stale: false,
    plain: false,
    stats: { rtt: undefined, reconnects: 0, queued: 0, lastClose: undefined },
    on: () => noop,
    once: () => noop,
    off: noop,
    listenerCount: () => 0,
    connect: refuse,
    reconnect: noop,
    close: noop,
    send: () => false,
    rpc: refuse,
    publish: refuse,
    ping: refuse,
    subscribe: () => {
      throw new TypeError('tether: no subscriptions during SSR; composables do nothing on the server');
    },
  } satisfies TetherClient;
  return {
    client: inert,
    state: shallowRef<ClientState>('idle'),
    channels: new Map(),
    dispose: noop,
    ssr: true,
  };
}

/** What {@link useTether} returns. */
export interface UseTetherReturn {
  /** The shared connection state: the same ref in every component. */
  state: Readonly<ShallowRef<ClientState>>;
  /** `state === 'open'`. */
  isConnected: ComputedRef<boolean>;
  /** Sends a raw frame; queued while offline. Returns false when it was queued. */
  send: TetherClient['send'];
  rpc: TetherClient['rpc'];
  /** Closes the shared client for good (1000, no reconnect). */
  close: () => void;
  client: TetherClient;
}

/**
 * @internal The app's Tether context, from `inject` inside a component or Pinia setup store.
 * Throws a TypeError naming the fix when the plugin was not installed.
 */
export function useTetherContext(what: string): TetherContext {
  const ctx = hasInjectionContext() ? inject(TETHER_KEY, undefined) : undefined;
  if (!ctx)
    throw new TypeError(`${what}: no Tether client; install it first with app.use(createTether({ url, token }))`);
  return ctx;
}

/**
 * The shared connection: reactive state every component sees, and the client's send/rpc/close.
 * @example
 * const { isConnected, rpc } = useTether()
 * const sum = await rpc('add', { a: 1, b: 2 })
 */
export function useTether(): UseTetherReturn {
  const ctx = useTetherContext('useTether()');
  const { client } = ctx;
  return {
    state: ctx.state,
    isConnected: computed(() => ctx.state.value === 'open'),
    send: (data) => client.send(data),
    rpc: (method, params, options) => client.rpc(method, params, options),
    close: () => client.close(),
    client,
  };
}
