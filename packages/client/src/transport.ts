/**
 * The transport seam: one WebSocket, wrapped so the client sees four callbacks and two methods.
 * @module
 */

/** The part of a WebSocket the client uses. Browsers' `WebSocket` and the `ws` package both fit. */
export interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: destroy the socket at once instead of waiting for the peer's close frame. */
  terminate?(): void;
  // `never` parameters let any implementation's event types fit; we read only `.data`, `.code`, `.reason`.
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from the `ws` package. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  // `ws` only; browsers ignore a third argument.
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** Raw message data: text as a string, binary as an ArrayBuffer. */
export type RawData = string | ArrayBuffer | Uint8Array;

export interface TransportHandlers {
  onOpen(): void;
  onMessage(data: RawData): void;
  onClose(code: number, reason: string): void;
  onError(event: unknown): void;
}

export interface Transport {
  send(data: string | Uint8Array): void;
  /** False once the socket is closing, before its close event: a frame written then would be lost. */
  isOpen(): boolean;
  /** Stops every callback, then closes; `kill` drops a (possibly half-open) socket at once where possible. */
  close(code: number, reason: string, kill?: boolean): void;
}

import { NORMAL } from './close-codes.js';
import { noop } from './deferred.js';

export function openTransport(
  Ctor: WebSocketConstructor,
  url: string,
  protocols: string[],
  h: TransportHandlers,
  headers?: Record<string, string>,
): Transport {
  const ws = headers ? new Ctor(url, protocols, { headers }) : new Ctor(url, protocols);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => h.onOpen();
  ws.onmessage = ((e: { data: RawData }) => h.onMessage(e.data)) as (event: never) => void;
  ws.onclose = ((e: { code: number; reason: string }) => h.onClose(e.code, e.reason)) as (event: never) => void;
  ws.onerror = h.onError as (event: never) => void;
  return {
    send: (data) => ws.send(data),
    isOpen: () => ws.readyState === 1,
    close(code, reason, kill) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      // `ws` emits "closed before the connection was established" as an error; an EventEmitter
      // with no error listener would throw it, so a no-op listener stays attached.
      ws.onerror = noop;
      try {
        if (kill && ws.terminate) ws.terminate();
        // Browsers accept only 1000 and 3000-4999 from application code.
        else ws.close(code === NORMAL || (code >= 3000 && code < 5000) ? code : NORMAL, reason);
      } catch {
        // Closing twice or mid-handshake is not worth surfacing: the socket is gone either way.
      }
    },
  };
}
