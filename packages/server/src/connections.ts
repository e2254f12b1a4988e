/**
 * The open connections: the only owner of the set of sessions, their metrics, and the welcome
 * each one gets once admitted.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type Codec, PROTOCOL_VERSION, type WelcomeFrame } from '@tether/protocol';
import type { RawData, WebSocket } from 'ws';
import type { Identity } from './auth.js';
import { guarded, type Logger } from './logger.js';
import { closeCodeOfError, type ServerMetrics } from './metrics.js';
import { type Resolved, sessionSettings } from './options.js';
import { Session, type SessionShared } from './session.js';
import { SessionTimers, sweepStep } from './session-timers.js';

/** The session of a socket, kept on the socket so its listeners can be shared functions. */
const SESSION = Symbol('tether.session');
type Tagged = WebSocket & { [SESSION]: Session };
const sessionOf = (ws: WebSocket): Session => (ws as Tagged)[SESSION];

/**
 * A fresh connection id as one flat string: `randomUUID()` answers a concatenation that, once
 * flattened, keeps its wrapper and the copy (104 B, where the copy alone is 56 B).
 */
const connectionId = (): string => Buffer.from(randomUUID(), 'latin1').toString('latin1');

function onPong(this: WebSocket): void {
  sessionOf(this).pong();
}

export interface ConnectionHooks {
  /** Every frame of every connection. */
  frame(s: Session, data: RawData, isBinary: boolean): void;
  /** The connection started closing (called once): free what it holds. */
  closing(s: Session): void;
}

/** @internal */
export class Connections {
  readonly sessions = new Set<Session>();
  private emptyWaiters: (() => void)[] = [];
  /** Settings, metrics, close hook and timers: one object for every session of the node. */
  private readonly shared: SessionShared;
  // Socket listeners, one of each per node rather than closures per connection.
  private readonly onError: (this: WebSocket, err: Error) => void;
  private readonly onMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void;
  private readonly onClose: (this: WebSocket, code: number) => void;

  constructor(
    private readonly o: Resolved,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
    hooks: ConnectionHooks,
    /** `maxDataSize` of namespaces not configured otherwise, announced in `welcome`. */
    private readonly maxDataSize = Number.POSITIVE_INFINITY,
  ) {
    this.shared = {
      settings: sessionSettings(o),
      metrics,
      onClosing: (s) => guarded(logger, 'release', () => hooks.closing(s)),
      timers: new SessionTimers(sweepStep(o.heartbeat.interval, o.heartbeat.timeout), this.sessions),
    };
    const { sessions, shared } = this;
    this.onError = function (err) {
      const session = sessionOf(this);
      // A frame `ws` refused (1009, 1007, 1002): that is the code this side closed with.
      session.closeCode ??= closeCodeOfError(err);
      logger.debug({ err, connectionId: session.connectionId }, 'socket error');
    };
    this.onMessage = function (data, isBinary) {
      const session = sessionOf(this);
      guarded(logger, 'frame', () => hooks.frame(session, data, isBinary));
    };
    const emptied = () => {
      if (sessions.size === 0) for (const wake of this.emptyWaiters.splice(0)) wake();
    };
    this.onClose = function (code) {
      const session = sessionOf(this);
      logger.debug({ connectionId: session.connectionId, code: session.closeCode ?? code }, 'connection closed');
      guarded(logger, 'close', () => session.closed());
      sessions.delete(session);
      shared.timers.left();
      metrics.connections.dec();
      metrics.disconnects.inc({ code: String(session.closeCode ?? code) });
      emptied();
    };
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Resolves once no connection is open. */
  emptied(): Promise<void> {
    if (this.sessions.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.emptyWaiters.push(resolve));
  }

  /** Takes over a socket whose upgrade was admitted, and sends its welcome. */
  open(ws: WebSocket, codec: Codec, identity: Identity, req: IncomingMessage): void {
    const { logger, metrics } = this;
    const session = new Session(ws, codec, connectionId(), identity, this.shared);
    (ws as Tagged)[SESSION] = session;
    this.sessions.add(session);
    metrics.connections.inc();
    metrics.connectionsTotal.inc();
    ws.on('error', this.onError);
    ws.on('message', this.onMessage);
    ws.on('close', this.onClose);
    ws.on('pong', onPong);
    const { limits, heartbeat } = this.o;
    const welcome: WelcomeFrame = {
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      connectionId: session.connectionId,
      user: identity.user,
      heartbeat: { interval: heartbeat.interval, timeout: heartbeat.timeout },
      limits: {
        maxPayload: limits.maxPayload,
        messagesPerSecond: limits.messagesPerSecond,
        burst: limits.burst,
        maxMalformed: limits.maxMalformed,
        maxBuffered: limits.maxBuffered,
        maxSubscriptions: limits.maxSubscriptions,
        ...(Number.isFinite(this.maxDataSize) && { maxDataSize: this.maxDataSize }),
      },
    };
    if (identity.expiresAt !== undefined) welcome.expiresAt = identity.expiresAt;
    session.send(welcome);
    session.start();
    // Asked only when logged: reading `remoteAddress` makes the socket keep its peer's address.
    if (logger.isLevelEnabled('debug'))
      logger.debug(
        { connectionId: session.connectionId, user: identity.user, codec: codec.name, ip: req.socket.remoteAddress },
        'connection open',
      );
  }
}
