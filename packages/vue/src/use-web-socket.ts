/**
 * `useWebSocket`: the seed's composable, signature unchanged, on the real client — it reconnects,
 * queues and recovers instead of asking the user to refresh the page.
 * @module
 */
import { CLIENT_DEFAULTS, type ClientOptions, createClient, QueueFullError, type TetherClient } from '@tether/client';
import { getCurrentScope, onScopeDispose, shallowRef } from 'vue';
import { inBrowser } from './context.js';

/** A user-facing notice (the seed showed these with `message.error`). */
export interface WebSocketNotice {
  /** `offline`: `sendMessage` while disconnected (the message is queued, not lost). */
  kind: 'offline';
  /** Text for the user. */
  message: string;
  /** The message that was queued. */
  data: unknown;
}

/** Name of the DOM event the default notifier dispatches on `window` (`detail` is the {@link WebSocketNotice}). */
export const NOTICE_EVENT = 'tether:notice';

/** The seed's options, plus every `createClient` option. */
export interface UseWebSocketOptions extends Omit<ClientOptions, 'url'> {
  url: ClientOptions['url'];
  /** Every frame except `welcome`/`ping`/`pong`/`reply`: parsed JSON, or the raw string. */
  onMessage?: (message: unknown) => void;
  /** After every (re)connection. */
  onConnect?: () => void;
  /** When an open connection drops (the client is already reconnecting unless `disconnect()` was called). */
  onDisconnect?: (info: { code: number; reason: string; reconnect: boolean }) => void;
  /** Connection errors (diagnostics; the client keeps trying). */
  onError?: (error: unknown) => void;
  /**
   * Reports user-facing problems. The default dispatches a `tether:notice` CustomEvent on `window`
   * and calls `console.warn` — the one console use of this package, so a notice is never silent.
   * @default dispatch `tether:notice` + `console.warn`
   */
  notify?: (notice: WebSocketNotice) => void;
  /** Text of the offline notice. @default 'Connection lost: your message will be sent when it is back.' */
  offlineMessage?: string;
}

export interface UseWebSocketReturn {
  /** Sends `data` now, or — while disconnected — reports a notice and queues it for delivery once back online. */
  sendMessage: <T>(data: T) => void;
  /**
   * Connects; does nothing without a token (`token` option, else the `token` cookie) or during SSR.
   * The token getter is called once here as the guard and again by the client on every (re)connect.
   * Never rejects: failures go to `onError`.
   */
  connect: (params?: UseWebSocketOptions | (() => UseWebSocketOptions)) => Promise<void>;
  /** Closes for good (no reconnect). Called automatically when the component unmounts. */
  disconnect: () => void;
  /** A function, as in the seed: `isConnected()`. */
  isConnected: () => boolean;
  /** The underlying client, once `connect()` created one. */
  client: () => TetherClient | undefined;
}

/** Reads the `token` cookie (the seed's `useCookie('token')`). */
export function cookieToken(): string | undefined {
  if (!inBrowser()) return undefined;
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'token') return decodeURIComponent(v.join('=')) || undefined;
  }
  return undefined;
}

function defaultNotify(notice: WebSocketNotice): void {
  if (inBrowser() && typeof CustomEvent === 'function')
    window.dispatchEvent(new CustomEvent(NOTICE_EVENT, { detail: notice }));
  // The one console use of the package, documented: a user-facing notice must never be silent.
  console.warn(`[tether] ${notice.message}`);
}

/**
 * The seed's composable. `connect()` does nothing without a token; `sendMessage()` while offline
 * notifies and queues; the connection is closed when the calling component unmounts.
 * @example
 * const { sendMessage, connect, isConnected } = useWebSocket(() => ({ url, onMessage: (m) => handle(m) }))
 * await connect()
 */
export function useWebSocket(options: UseWebSocketOptions | (() => UseWebSocketOptions)): UseWebSocketReturn {
  const resolve = (o: UseWebSocketOptions | (() => UseWebSocketOptions)): UseWebSocketOptions =>
    typeof o === 'function' ? o() : o;
  let client: TetherClient | undefined;
  let offs: (() => void)[] = [];
  // Sends before any client exists (no token yet): delivered when one is created.
  let early: unknown[] = [];
  const connected = shallowRef(false);
  let current = resolve(options);
  // Bumped by disconnect(): a connect() still awaiting its token must not open a socket afterwards.
  let gen = 0;

  const notify = (data: unknown): void => {
    const message = current.offlineMessage ?? 'Connection lost: your message will be sent when it is back.';
    (current.notify ?? defaultNotify)({ kind: 'offline', message, data });
  };

  const drop = (): void => {
    for (const off of offs) off();
    offs = [];
    client?.close();
    client = undefined;
    connected.value = false;
  };

  const connect: UseWebSocketReturn['connect'] = async (params) => {
    // Never on the server: an SSR render must not open sockets.
    if (!inBrowser()) return;
    const o = resolve(params ?? options);
    current = o;
    const my = gen;
    const token = o.token ?? cookieToken;
    let probe: string | null | undefined;
    try {
      probe = typeof token === 'function' ? await token() : token;
    } catch (err) {
      o.onError?.(err);
      return;
    }
    if (!probe || my !== gen) return;
    if (client && client.state !== 'closed') return client.connect();
    drop();
    const { onMessage, onConnect, onDisconnect, onError, notify: _n, offlineMessage: _m, ...clientOptions } = o;
    const c = createClient({ ...clientOptions, token });
    client = c;
    offs = [
      c.on('state', (next) => {
        connected.value = next === 'open';
      }),
      c.on('message', (m) => onMessage?.(m)),
      c.on('open', () => onConnect?.()),
      c.on('close', (info) => onDisconnect?.(info)),
      c.on('error', (err) => onError?.(err)),
    ];
    for (const data of early) c.send(data);
    early = [];
    try {
      await c.connect();
    } catch (err) {
      // The client gave up for good (e.g. 4003): report it, never throw at the caller, as the seed.
      onError?.(err);
    }
  };

  const sendMessage = <T>(data: T): void => {
    if (!client || client.state === 'closed') {
      const max = current.queue?.max ?? CLIENT_DEFAULTS.queue.max;
      if (early.length >= max) throw new QueueFullError(max);
      notify(data);
      early.push(data);
      return;
    }
    if (client.state !== 'open') notify(data);
    // Queued by the client while not open (throws QueueFullError only when its queue is full).
    client.send(data);
  };

  const disconnect = (): void => {
    gen++;
    drop();
    early = [];
  };

  if (getCurrentScope()) onScopeDispose(disconnect);

  return { sendMessage, connect, disconnect, isConnected: () => connected.value, client: () => client };
}
