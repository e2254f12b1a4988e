/**
 * The TCP socket under a `ws` WebSocket. `ws` keeps it in a private field and offers no public
 * way to it; this is the one place that reads the field (for the peer address, and for corking
 * a fan-out's writes).
 * @module
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** `ws`'s socket, or `null`/`undefined` once it is gone (or before it was set). */
export const socketOf = (ws: WebSocket): Socket | null | undefined =>
  (ws as unknown as { _socket?: Socket | null })._socket;
