/**
 * One client connection: sending (with the slow-consumer check), liveness (heartbeat, token
 * expiry), rate and malformed-frame budgets, and the single close funnel. Its channels are the
 * channel registry's (`channels.ts`), not its own.
 * @module
 */
import { CloseCode, type Codec } from '@tether/protocol';
import WebSocket from 'ws';
import type { Identity } from './auth.js';
import { type EncodedFrame, encodeFrame } from './encoded.js';
import type { ServerMetrics } from './metrics.js';
import { TokenBucket, WindowCounter } from './rate-limit.js';

/** What the server knows about a connection; passed to RPC handlers and `authorize`. */
export interface ClientContext {
  /** User id from the token. */
  readonly user: string;
  readonly connectionId: string;
  /** Public presence info from the token (`info` claim). */
  readonly info: unknown;
  /** Channel patterns from the token (`channels` claim), when present. */
  readonly channels: readonly string[] | undefined;
  /** True for operators: a token with `admin: true`, or the admin page's login. */
  readonly admin?: boolean;
}

/** @internal Per-connection settings resolved from the server options. */
export interface SessionSettings {
  heartbeatInterval: number;
  heartbeatTimeout: number;
  maxBuffered: number;
  messagesPerSecond: number;
  burst: number;
  maxRejected: number;
  maxMalformed: number;
  /** How long a closing socket may take to finish the close handshake before it is destroyed. */
  closeTimeout: number;
}

// Longest delay setTimeout accepts (about 24.8 days); later expiries are re-checked.
const MAX_TIMEOUT = 2 ** 31 - 1;

/** @internal */
export class Session implements ClientContext {
  private identity: Identity;
  /** Last time any application frame arrived (ms). */
  lastSeen = Date.now();
  /** Set once the close funnel ran: nothing more is sent or handled. */
  closing = false;
  /** Close code this side chose, for the disconnect metric. */
  closeCode: number | undefined;
  /** When the connection was admitted (ms since the epoch). */
  readonly openedAt = Date.now();
  /** The peer's address, as the socket saw it. */
  address = '';
  /** Round-trip time of the last answered WebSocket ping, in ms. */
  rtt: number | undefined;
  private pingSentAt = 0;
  private readonly bucket: TokenBucket;
  private readonly rejected: WindowCounter;
  private readonly malformed: WindowCounter;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private deadTimer: ReturnType<typeof setTimeout> | undefined;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private killTimer: ReturnType<typeof setTimeout> | undefined;
  private protocolAlive = true;
  private ctx: ClientContext | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly codec: Codec,
    readonly connectionId: string,
    identity: Identity,
    private readonly settings: SessionSettings,
    private readonly metrics: ServerMetrics,
    /** Called exactly once, when the connection starts closing: free its subscriptions and presence. */
    private readonly onClosing: (session: Session) => void,
  ) {
    this.identity = identity;
    this.bucket = new TokenBucket(settings.messagesPerSecond, settings.burst);
    this.rejected = new WindowCounter(settings.maxRejected, 10_000);
    this.malformed = new WindowCounter(settings.maxMalformed, 10_000);
  }

  get user(): string {
    return this.identity.user;
  }
  get info(): unknown {
    return this.identity.info;
  }
  get channels(): readonly string[] | undefined {
    return this.identity.channels;
  }
  get admin(): boolean {
    return this.identity.admin === true;
  }

  /** When the token expires (ms since the epoch), if it does. */
  get expiresAt(): number | undefined {
    return this.identity.expiresAt;
  }

  /** A refreshed token for the same user: its claims replace the old ones (keeping `info` if it has none). */
  reauthenticate(identity: Identity): void {
    this.identity = { ...identity, info: identity.info ?? this.identity.info };
    this.ctx = undefined;
    this.armExpiry();
  }

  /**
   * The context handed to application hooks: a frozen snapshot, so hooks cannot mutate the
   * session; made on first use and kept until the identity changes (not one per RPC).
   */
  context(): ClientContext {
    if (this.ctx) return this.ctx;
    const ctx = { user: this.user, connectionId: this.connectionId, info: this.info, channels: this.channels };
    this.ctx = Object.freeze(this.admin ? { ...ctx, admin: true } : ctx);
    return this.ctx;
  }

  /** Starts the heartbeat and the token-expiry timer. */
  start(): void {
    const { heartbeatInterval } = this.settings;
    this.ws.on('pong', () => {
      this.protocolAlive = true;
      if (this.pingSentAt > 0) this.rtt = Date.now() - this.pingSentAt;
    });
    this.pingTimer = setInterval(() => this.tick(), heartbeatInterval);
    this.pingTimer.unref();
    this.armDeadline();
    this.armExpiry();
  }

  private tick(): void {
    if (this.closing) return;
    // A peer that answers neither our protocol pings nor with frames is gone (no FIN seen):
    // destroy the socket instead of waiting for a close handshake that cannot happen.
    if (!this.protocolAlive && Date.now() - this.lastSeen > this.settings.heartbeatInterval) {
      this.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      this.ws.terminate();
      return;
    }
    this.protocolAlive = false;
    this.send({ type: 'ping' });
    try {
      this.pingSentAt = Date.now();
      this.ws.ping();
    } catch {
      // The socket closed between the check and the ping; the close handler cleans up.
    }
  }

  /** Closes with 4010 once `interval + timeout` passed since the last frame; re-arms otherwise. */
  private armDeadline(): void {
    const limit = this.settings.heartbeatInterval + this.settings.heartbeatTimeout;
    const wait = Math.max(1, this.lastSeen + limit - Date.now());
    this.deadTimer = setTimeout(() => {
      if (this.closing) return;
      if (Date.now() - this.lastSeen >= limit) this.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      else this.armDeadline();
    }, wait);
    this.deadTimer.unref();
  }

  /** (Re)schedules the 4001 close at the token's expiry. */
  private armExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    const at = this.identity.expiresAt;
    if (at === undefined || this.closing) return;
    const wait = at - Date.now();
    if (wait <= 0) {
      this.close(CloseCode.UNAUTHORIZED, 'token expired');
      return;
    }
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(wait, MAX_TIMEOUT));
    this.expiryTimer.unref();
  }

  /** Accounts for one liveness frame (`ping`, `pong`, `heartbeat`): never rate limited. */
  alive(): true {
    this.lastSeen = Date.now();
    return true;
  }

  /** Accounts for one incoming frame; false when it is over the rate limit (and maybe closes). */
  admit(): boolean {
    this.lastSeen = Date.now();
    if (this.bucket.take()) return true;
    if (this.rejected.hit()) this.close(CloseCode.RATE_LIMITED, 'rate limited');
    return false;
  }

  /** Accounts for one malformed frame; true when it closed the connection. */
  malformedFrame(): boolean {
    if (!this.malformed.hit()) return false;
    this.close(CloseCode.BAD_FRAMES, 'too many malformed frames');
    return true;
  }

  send(frame: object): boolean {
    if (this.closing) return false;
    return this.sendBytes(encodeFrame(frame, this.codec));
  }

  sendEncoded(frame: EncodedFrame): boolean {
    if (this.closing) return false;
    return this.sendBytes(frame.for(this.codec));
  }

  /**
   * The only way bytes leave: refuses to queue past `maxBuffered` (a client that does not read
   * is closed with 4009 rather than buffered for without bound). Text frames go as a Buffer with
   * `binary: false`, so `ws` neither re-encodes a string nor copies per socket.
   */
  private sendBytes(bytes: Buffer): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    const buffered = this.ws.bufferedAmount;
    if (buffered > 0 && buffered + bytes.length > this.settings.maxBuffered) {
      this.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
      return false;
    }
    this.ws.send(bytes, { binary: this.codec.binary });
    this.metrics.framesOut.inc();
    this.metrics.bytesOut.inc(bytes.length);
    return true;
  }

  /**
   * The close funnel: runs `onClosing` once (subscriptions and presence are freed now, not when
   * the peer finishes the handshake), sends the close frame, and destroys the socket if the
   * handshake does not finish within `closeTimeout`.
   */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeCode = code;
    this.stopTimers();
    this.onClosing(this);
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    this.killTimer = setTimeout(() => this.ws.terminate(), this.settings.closeTimeout);
    this.killTimer.unref();
  }

  /** The socket is gone (whoever closed it): make sure the funnel ran and no timer survives. */
  closed(): void {
    if (!this.closing) {
      this.closing = true;
      this.stopTimers();
      this.onClosing(this);
    }
    if (this.killTimer) clearTimeout(this.killTimer);
  }

  private stopTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.deadTimer) clearTimeout(this.deadTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
  }
}
