/**
 * Typed errors of the client. Network problems never throw synchronously: they reject a
 * promise with one of these, or arrive as an `error` event.
 * @module
 */
import type { ErrorCode } from '@tether/protocol';

/** Base class: every error the client produces carries a stable string `code`. */
export class TetherError extends Error {
  // Fields set in constructors are `declare`d: no class-field initializer ships for them (same own properties).
  declare readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    // Class names do not survive minification; `name` must.
    this.name = 'TetherError';
  }
}

/** A request got no reply within its timeout. `code` is `ERR_TETHER_TIMEOUT`. */
export class TimeoutError extends TetherError {
  constructor(message: string) {
    super('ERR_TETHER_TIMEOUT', message);
    this.name = 'TimeoutError';
  }
}

/**
 * The connection went away before the request could be answered, or the client stopped for good.
 * `closeCode`/`reason` say why. `code` is `ERR_TETHER_DISCONNECTED`.
 */
export class DisconnectedError extends TetherError {
  declare readonly closeCode: number;
  declare readonly reason: string;
  constructor(closeCode: number, reason: string) {
    super('ERR_TETHER_DISCONNECTED', `disconnected (${closeCode}${reason ? `: ${reason}` : ''})`);
    this.name = 'DisconnectedError';
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/** The server answered with `ok: false`, or sent an `error` frame. `code` is the protocol's error code. */
export class ServerError extends TetherError {
  declare readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'ServerError';
  }
}

/** The offline queue is full (`queue.max`): nothing was dropped silently. `code` is `ERR_TETHER_QUEUE_FULL`. */
export class QueueFullError extends TetherError {
  constructor(max: number) {
    super('ERR_TETHER_QUEUE_FULL', `offline queue is full (${max} frames); raise queue.max or wait for "open"`);
    this.name = 'QueueFullError';
  }
}
