/**
 * One client connection: sending (with the slow-consumer check), liveness (heartbeat, token
 * expiry), rate and malformed-frame budgets, and the single close funnel. Its channels are the
 * channel registry's (`channels.ts`), not its own.
 * @module
 */
import { CloseCode, type Codec } from '@tether/protocol';
import WebSocket from 'ws';
import type { Identity } from './auth.js';
import type { ClientContext } from './client-context.js';
import type { EncodedFrame } from './encoded.js';
import type { ServerMetrics } from './metrics.js';
import { WindowCounter } from './rate-limit.js';
import type { SessionTimers } from './session-timers.js';
import { socketOf } from './ws-socket.js';

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

/** What every session of a node shares: one object, not four fields per connection. */
export interface SessionShared {
  settings: SessionSettings;
  metrics: ServerMetrics;
  /** Called exactly once per session, when it starts closing: free its subscriptions and presence. */
  onClosing: (session: Session) => void;
  /** The node's heartbeat sweep and expiry timers: a connection has no timer of its own. */
  timers: SessionTimers<Session>;
}

// Times are ms since this module loaded, floored: small integers V8 stores inline, where the bare
// difference is a heap number (16 B a field, 48 B a connection) even when integral.
const BASE = Date.now();
const sinceBase = (t: number): number => Math.floor(t - BASE);
const clock = (): number => sinceBase(Date.now());

const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

/** Per-connection state most connections never need (see `Session.rare`). */
interface Rare {
  ctx?: ClientContext | undefined;
  rejected?: WindowCounter;
  malformed?: WindowCounter;
  killTimer?: ReturnType<typeof setTimeout>;
  closeCode?: number | undefined;
}

/** @internal */
export class Session implements ClientContext {
  private identity: Identity;
  private seen = clock();
  /** Set once the close funnel ran: nothing more is sent or handled. */
  closing = false;
  private readonly opened = clock();
  /** Round-trip time of the last answered WebSocket ping, in ms. */
  rtt: number | undefined;
  private pingSentAt = -1;
  private nextPingAt = 0;
  // The rate limit's token bucket, inline, refilled since `seen` by every frame.
  private tokens: number;
  /** What most connections never need, in one object made on first use (one field, not four). */
  private rare: Rare | undefined;
  private protocolAlive = true;

  constructor(
    readonly ws: WebSocket,
    readonly codec: Codec,
    readonly connectionId: string,
    identity: Identity,
    private readonly shared: SessionShared,
  ) {
    this.identity = identity;
    this.tokens = shared.settings.burst;
  }

  private get settings(): SessionSettings {
    return this.shared.settings;
  }
  private get timers(): SessionTimers<Session> {
    return this.shared.timers;
  }

  /** Last time any application frame arrived (ms since the epoch). */
  get lastSeen(): number {
    return BASE + this.seen;
  }
  /** When the connection was admitted (ms since the epoch). */
  get openedAt(): number {
    return BASE + this.opened;
  }
  /** The peer's address, read from `ws`'s socket when asked: a copy per session cost every connection. */
  get address(): string {
    return socketOf(this.ws)?.remoteAddress ?? '';
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
    const previous = this.identity.expiresAt;
    this.identity = { ...identity, info: identity.info ?? this.identity.info };
    if (this.rare) this.rare.ctx = undefined;
    if (!this.closing) this.timers.expireAt(this, previous);
    this.expired(Date.now());
  }

  /** The context handed to hooks: a frozen snapshot, made once per identity (not per RPC). */
  context(): ClientContext {
    const rare = this.extras();
    if (rare.ctx) return rare.ctx;
    const ctx = { user: this.user, connectionId: this.connectionId, info: this.info, channels: this.channels };
    rare.ctx = Object.freeze(this.admin ? { ...ctx, admin: true } : ctx);
    return rare.ctx;
  }

  private extras(): Rare {
    this.rare ??= {};
    return this.rare;
  }

  /** Starts the heartbeat and the token expiry (both on the node's shared timers). */
  start(): void {
    this.nextPingAt = clock() + this.settings.heartbeatInterval;
    this.timers.started();
    this.timers.expireAt(this, undefined);
    this.expired(Date.now());
  }

  /** The socket answered a WebSocket ping. */
  pong(): void {
    this.protocolAlive = true;
    if (this.pingSentAt >= 0) this.rtt = clock() - this.pingSentAt;
  }

  /** One round of the shared sweep: 4010 after `interval + timeout` of silence; a ping every `interval`. */
  sweep(epochNow: number): void {
    if (this.closing) return;
    const now = sinceBase(epochNow);
    const { heartbeatInterval, heartbeatTimeout } = this.settings;
    if (now - this.seen >= heartbeatInterval + heartbeatTimeout) {
      this.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      return;
    }
    if (now < this.nextPingAt) return;
    this.nextPingAt = now + heartbeatInterval;
    // A peer that answers neither our protocol pings nor with frames is gone (no FIN seen):
    // destroy the socket instead of waiting for a close handshake that cannot happen.
    if (!this.protocolAlive && now - this.seen > heartbeatInterval) {
      this.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      this.ws.terminate();
      return;
    }
    this.protocolAlive = false;
    this.send({ type: 'ping' });
    try {
      this.pingSentAt = now;
      this.ws.ping();
    } catch {
      // The socket closed between the check and the ping; the close handler cleans up.
    }
  }

  /** Closes with 4001 when the token has expired by `now`. */
  expired(now: number): void {
    const at = this.identity.expiresAt;
    if (at !== undefined && at <= now) this.close(CloseCode.UNAUTHORIZED, 'token expired');
  }

  /** Accounts for one liveness frame (`ping`, `pong`, `heartbeat`): never rate limited. */
  alive(): true {
    this.refill(clock());
    return true;
  }
  private refill(t: number): void {
    const { messagesPerSecond, burst } = this.settings;
    this.tokens = Math.min(burst, this.tokens + ((t - this.seen) / 1000) * messagesPerSecond);
    this.seen = t;
  }
  /** Close code this side chose, for the disconnect metric (kept with the rare fields). */
  get closeCode(): number | undefined {
    return this.rare?.closeCode;
  }
  set closeCode(code: number | undefined) {
    this.extras().closeCode = code;
  }

  /** Accounts for one incoming frame; false when it is over the rate limit (and maybe closes). */
  admit(): boolean {
    this.refill(clock());
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    const rare = this.extras();
    rare.rejected ??= new WindowCounter(this.settings.maxRejected, 10_000);
    if (rare.rejected.hit()) this.close(CloseCode.RATE_LIMITED, 'rate limited');
    return false;
  }

  /** Accounts for one malformed frame; true when it closed the connection. */
  malformedFrame(): boolean {
    const rare = this.extras();
    rare.malformed ??= new WindowCounter(this.settings.maxMalformed, 10_000);
    if (!rare.malformed.hit()) return false;
    this.close(CloseCode.BAD_FRAMES, 'too many malformed frames');
    return true;
  }

  send(frame: object): boolean {
    if (this.closing) return false;
    const out = this.codec.encode(frame);
    // Text goes to `ws` as the string: the socket encodes it as it writes, with no Buffer between.
    return typeof out === 'string' ? this.sendData(out, Buffer.byteLength(out)) : this.sendData(out, out.byteLength);
  }

  sendEncoded(frame: EncodedFrame): boolean {
    return !this.closing && this.sendData(frame.for(this.codec));
  }

  private sendData(data: string | Uint8Array, size = data.length): boolean {
    if (!this.write(data, size)) return false;
    this.shared.metrics.framesOut.inc();
    this.shared.metrics.bytesOut.inc(size);
    return true;
  }

  /**
   * @internal The only way bytes leave (`size`: `data`'s length in bytes): past `maxBuffered` the client
   * is closed with 4009, never buffered for without bound. `fanOut` (encoded.ts) counts its one Buffer.
   */
  write(data: string | Uint8Array, size: number = data.length): boolean {
    if (this.closing || this.ws.readyState !== WebSocket.OPEN) return false;
    const buffered = this.ws.bufferedAmount;
    if (buffered > 0 && buffered + size > this.settings.maxBuffered) {
      this.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
      return false;
    }
    this.ws.send(data, this.codec.binary ? BINARY : TEXT);
    return true;
  }

  /**
   * The close funnel: `onClosing` once (subscriptions and presence freed now), the close frame,
   * and the socket destroyed if the handshake has not finished within `closeTimeout`.
   */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeCode = code;
    this.timers.delete(this);
    this.shared.onClosing(this);
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    const kill = setTimeout(() => this.ws.terminate(), this.settings.closeTimeout);
    kill.unref();
    this.extras().killTimer = kill;
  }

  /** The socket is gone (whoever closed it): make sure the funnel ran and no timer survives. */
  closed(): void {
    if (!this.closing) {
      this.closing = true;
      this.timers.delete(this);
      this.shared.onClosing(this);
    }
    if (this.rare?.killTimer) clearTimeout(this.rare.killTimer);
  }
}
