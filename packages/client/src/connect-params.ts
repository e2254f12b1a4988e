/**
 * What each connection attempt connects with: the next URL (several rotate on failure), the
 * token (in the query, or as a Bearer header on Node with `ws`), and the timer that refreshes
 * the token in place before it expires.
 * @module
 */
import type { RefreshResult } from '@tether/protocol';
import { openTransport, type Transport, type TransportHandlers, type WebSocketConstructor } from './transport.js';
import type { ClientOptions } from './types.js';

/** @internal */
export type ConnectParams = ReturnType<typeof createConnectParams>;

/** @internal `refresh` sends the `refresh` request when `connection` is still the open one. */
export function createConnectParams(
  options: Pick<ClientOptions, 'url' | 'token' | 'authHeader'>,
  WebSocket: WebSocketConstructor,
  refresh: (token: string, connection: number) => Promise<RefreshResult> | undefined,
) {
  let urlIndex = 0;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  const getter = typeof options.token === 'function' ? options.token : undefined;

  /**
   * Sends `refresh` with a fresh token when 90% of the token's life has passed, so the server never
   * closes with 4001. A failure is left to that close: the reconnect then fetches a token anyway.
   */
  function refreshBefore(expiresAt: number | undefined, connection: number): void {
    if (!expiresAt || !getter) return;
    const delay = 0.9 * (expiresAt - Date.now());
    // setTimeout fires at once past 2^31-1 ms; a token that lives longer than ~24 days is not refreshed.
    if (delay > 2 ** 31 - 1) return;
    refreshTimer = setTimeout(
      async () => {
        try {
          const token = await getter();
          // The getter may have been slow: refresh only the connection this timer was set for.
          const reply = token ? refresh(token, connection) : undefined;
          if (reply) refreshBefore((await reply).expiresAt, connection);
        } catch {}
      },
      Math.max(1000, delay),
    );
  }

  return {
    /** Opens this attempt's socket: the next URL, with the token in its query or (`authHeader`) a header. */
    open(token: string | null | undefined, protocols: string[], handlers: TransportHandlers): Transport {
      const u = options.url;
      let url = typeof u === 'function' ? u() : Array.isArray(u) ? (u[urlIndex % u.length] as string) : u;
      const headers = token && options.authHeader ? { Authorization: `Bearer ${token}` } : undefined;
      if (token && !headers) url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
      return openTransport(WebSocket, url, protocols, handlers, headers);
    },

    /** The attempt never opened: the next one tries the next URL. */
    rotate(): void {
      urlIndex++;
    },

    refreshBefore,

    stop(): void {
      clearTimeout(refreshTimer);
    },
  };
}
