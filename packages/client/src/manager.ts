/**
 * `WebSocketManager`: the class Tether grew from, same shape, on the real client — so code
 * written for the original gains backoff, liveness and an offline queue without changes. Pointed
 * at its own backend (a server that speaks its own JSON and selects no subprotocol) it runs in
 * plain mode; pointed at a Tether server, the same options give Tether mode (see handshake.ts).
 * @module
 */
import { type ClientOptions, createClient, type TetherClient } from './client.js';

export interface WebSocketManagerOptions extends ClientOptions {
  /** Called on every open: plain mode when the socket opens (at most `welcomeTimeout` later), Tether mode on `welcome`. */
  onConnect?: () => void;
  /** Called whenever an open connection closes (the client reconnects on its own unless told to stop). */
  onDisconnect?: () => void;
  /** Every frame except `welcome`/`ping`/`pong`/`reply`: parsed JSON, or the raw string when it is not JSON. */
  onMessage?: (message: unknown) => void;
  onError?: (error: unknown) => void;
}

/**
 * @example
 * const m = new WebSocketManager({ url, WebSocket, onConnect, onDisconnect, onMessage, onError })
 * await m.connect(); m.send({ hello: 1 }); m.isConnected; m.disconnect()
 */
export class WebSocketManager {
  /** The client underneath, for everything the original class could not do (subscribe, rpc, events). */
  declare readonly client: TetherClient;

  constructor(options: WebSocketManagerOptions) {
    const { onConnect, onDisconnect, onMessage, onError, ...rest } = options;
    const c = createClient(rest);
    this.client = c;
    if (onConnect) c.on('open', () => onConnect());
    if (onDisconnect) c.on('close', () => onDisconnect());
    if (onMessage) c.on('message', onMessage);
    if (onError) c.on('error', onError);
  }

  /** Resolves once connected; rejects only when the client gives up (see `reconnect.maxAttempts`). */
  connect(): Promise<void> {
    return this.client.connect();
  }

  /** Strings go as they are, objects as JSON. Queued while offline; throws only `QueueFullError`. */
  send(data: unknown): void {
    this.client.send(data);
  }

  /** Closes for good (1000): no reconnect, no timers left. */
  disconnect(): void {
    this.client.close();
  }

  get isConnected(): boolean {
    return this.client.state === 'open';
  }
}
