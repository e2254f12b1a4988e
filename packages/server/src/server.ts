/**
 * `createServer`: the Tether server — WebSocket endpoint (`ws` in `noServer` mode), HTTP API and
 * probes on one `node:http` server.
 * @module
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type ClientFrame,
  CloseCode,
  type Codec,
  channelNameError,
  decodeClientFrame,
  type ErrorBody,
  jsonCodec,
  PROTOCOL_VERSION,
  type PresenceClient,
  type PublishResult,
  SUBPROTOCOL_JSON,
  SUBPROTOCOL_MSGPACK,
  type SubscribeFrame,
  type WelcomeFrame,
} from '@tether/protocol';
import { msgpackCodec } from '@tether/protocol/msgpack';
import type { Registry } from 'prom-client';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { AuthError, type Authenticator, createAuthenticator, originAllowed, signToken } from './auth.js';
import { type Broker, BrokerUnavailableError, type HistoryQuery, type HistoryResult } from './broker.js';
import { type ApiBackend, handleApiRequest } from './http-api.js';
import { rejectUpgrade } from './http-util.js';
import { Hub } from './hub.js';
import { createLogger, type Logger, redactUrl } from './logger.js';
import { memoryBroker } from './memory-broker.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import { type ChannelPolicy, matchChannel, Namespaces } from './namespaces.js';
import {
  type AuthorizeHook,
  type ChannelAction,
  type HeartbeatOptions,
  type LimitOptions,
  type Resolved,
  type RpcHandler,
  resolveOptions,
  type ServerOptions,
} from './options.js';
import { subscribeResult } from './recovery.js';
import { RpcError } from './rpc-error.js';
import { Session, type SessionSettings } from './session.js';

export interface CloseOptions {
  /** Everything is closed by then, in ms; stragglers are terminated. @default drainDeadline (10000) */
  deadline?: number;
}

export interface PublishOptions {
  /** Idempotency key: a repeat within the dedup window returns the first `{offset, epoch}`. */
  key?: string;
}

/** A running Tether server. */
export interface TetherServer {
  /** The HTTP server the endpoint and API live on. */
  readonly httpServer: Server;
  readonly broker: Broker;
  readonly logger: Logger;
  /** This server's Prometheus registry (also served at `GET /metrics`). */
  readonly metrics: Registry;
  /** Open connections. */
  readonly connections: number;
  /** True once `close()` began: `/readyz` answers 503 and upgrades are refused. */
  readonly draining: boolean;
  /** Starts the broker and listens; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** The bound address, once listening. */
  address(): AddressInfo | null;
  /** Drains: unready first, then 1012 to clients in batches, then closes. Idempotent. */
  close(options?: CloseOptions): Promise<void>;
  /** Registers an RPC method (replacing any previous handler of that name). */
  rpc(method: string, handler: RpcHandler): TetherServer;
  /** Publishes from server code (allowed on every channel whose namespace does not say `publish: 'nobody'`). */
  publish(channel: string, data: unknown, options?: PublishOptions): Promise<PublishResult>;
  history(channel: string, query?: HistoryQuery): Promise<HistoryResult>;
  presence(channel: string): Promise<PresenceClient[]>;
  /** Serves the HTTP API routes; returns false when `req` is not one of them. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

const forbidden = (message: string): RpcError => new RpcError('forbidden', message);

/** Maps anything thrown by a command to what the client may see: never a stack or internal detail. */
function errorBody(err: unknown, logger: Logger, what: string): ErrorBody {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  if (err instanceof BrokerUnavailableError || (err instanceof Error && err.name === 'BrokerUnavailableError'))
    return { code: 'unavailable', message: 'broker unavailable, try again' };
  logger.error({ err }, `${what} failed`);
  return { code: 'internal', message: 'internal error' };
}

/**
 * Creates a Tether server. Nothing listens until `listen()`.
 * @example
 * const tether = createServer({ port: 8088, auth: { jwtSecret: process.env.TETHER_JWT_SECRET } });
 * tether.rpc('echo', (params) => params);
 * await tether.listen();
 */
export function createServer(options: ServerOptions): TetherServer {
  if (typeof options !== 'object' || options === null) throw new TypeError('createServer(options): options required');
  if (!options.auth) throw new TypeError('createServer: options.auth is required (e.g. { jwtSecret })');
  return new Tether(options);
}

class Tether implements TetherServer {
  readonly httpServer: Server;
  readonly broker: Broker;
  readonly logger: Logger;
  private readonly o: Resolved;
  private readonly ownServer: boolean;
  private readonly auth: Authenticator;
  private readonly ns: Namespaces;
  private readonly m: ServerMetrics;
  private readonly hub: Hub;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session>();
  private readonly rpcs = new Map<string, RpcHandler>();
  private readonly apiKeyHash: Buffer | undefined;
  private readonly api: ApiBackend;
  private readonly settings: SessionSettings;
  private upgrading = 0;
  private started: Promise<void> | undefined;
  private running = false;
  private closing: Promise<void> | undefined;
  private presenceTimer: ReturnType<typeof setInterval> | undefined;
  private emptyWaiters: (() => void)[] = [];
  draining = false;

  constructor(private readonly options: ServerOptions) {
    this.o = resolveOptions(options);
    this.auth = createAuthenticator(options.auth);
    this.ns = new Namespaces(options.namespaces);
    this.logger = options.logger ?? createLogger(options.logLevel);
    this.m = createMetrics();
    this.broker = options.broker ?? memoryBroker();
    this.hub = new Hub(this.broker, this.m, this.logger);
    this.apiKeyHash = options.apiKey ? sha256(options.apiKey) : undefined;
    if (options.devLogin) {
      if (process.env.NODE_ENV === 'production')
        throw new TypeError('devLogin issues tokens to anyone: it is refused when NODE_ENV=production');
      if (options.auth.jwtSecret === undefined) throw new TypeError('devLogin needs auth.jwtSecret to sign tokens');
    }
    const { limits, heartbeat } = this.o;
    this.settings = {
      heartbeatInterval: heartbeat.interval,
      heartbeatTimeout: heartbeat.timeout,
      maxBuffered: limits.maxBuffered,
      messagesPerSecond: limits.messagesPerSecond,
      burst: limits.burst,
      maxRejected: limits.maxRejected,
      maxMalformed: limits.maxMalformed,
      closeTimeout: Math.min(5_000, heartbeat.interval + heartbeat.timeout),
    };
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxPayload,
      perMessageDeflate: false,
      clientTracking: false,
      // The subprotocol was checked before the upgrade; this only echoes the chosen one.
      handleProtocols: (protocols) => pickProtocol(protocols) ?? false,
    });
    this.wss.on('error', (err) => this.logger.warn({ err }, 'WebSocket server error'));

    this.ownServer = !options.server;
    this.httpServer =
      options.server ??
      createHttpServer((req, res) => {
        try {
          if (this.handleRequest(req, res)) return;
          if (options.onRequest) options.onRequest(req, res);
          else {
            res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
            res.end(JSON.stringify({ error: { code: 'not_found', message: 'not found' } }));
          }
        } catch (err) {
          this.logger.error({ err, url: redactUrl(req.url) }, 'request handler failed');
          if (!res.headersSent) res.writeHead(500).end();
          else res.destroy();
        }
      });
    this.httpServer.on('upgrade', this.onUpgrade);
    this.httpServer.on('clientError', this.onClientError);

    this.api = {
      logger: this.logger,
      registry: this.m.registry,
      maxPayload: limits.maxPayload,
      apiKeyValid: (header) => this.apiKeyValid(header),
      ready: () => this.running && !this.draining && this.broker.available(),
      publish: (channel, data, key) => this.publishFrom('http', channel, data, key),
      history: (channel, since, limit) =>
        this.broker.history(channel, {
          ...(since !== undefined && { since }),
          ...(limit !== undefined && { limit }),
        }),
      presence: (channel) => this.broker.presence(channel),
    };
    if (options.devLogin) {
      const secret = options.auth.jwtSecret as string | Uint8Array;
      this.api.devLogin = async (body) => {
        const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
        if (typeof b.user !== 'string' || b.user === '' || b.user.length > 128)
          throw new RpcError('bad_request', 'body must be {user: string, info?, channels?}');
        if (b.channels !== undefined && (!Array.isArray(b.channels) || !b.channels.every((c) => typeof c === 'string')))
          throw new RpcError('bad_request', '"channels" must be an array of strings');
        const token = await signToken(secret, {
          user: b.user,
          ...(b.info !== undefined && { info: b.info }),
          ...(b.channels !== undefined && { channels: b.channels as string[] }),
        });
        return { token };
      };
    }
  }

  get metrics(): Registry {
    return this.m.registry;
  }

  get connections(): number {
    return this.sessions.size;
  }

  address(): AddressInfo | null {
    const a = this.httpServer.address();
    return a && typeof a === 'object' ? a : null;
  }

  /**
   * The broker lost or regained its store. Subscribers are told when it goes: their publishes
   * fail with `unavailable` meanwhile and live delivery pauses, which an app may want to show.
   * Nothing is lost — the broker backfills — so its return needs no frame.
   */
  private brokerAvailability(up: boolean): void {
    this.logger[up ? 'info' : 'warn']({ broker: this.broker.name }, `broker ${up ? 'up' : 'down'}`);
    if (up) return;
    const frame = {
      type: 'error',
      error: { code: 'unavailable', message: 'the message broker is unreachable: publishing fails until it returns' },
    } as const;
    for (const session of this.sessions) if (session.subs.size > 0) session.send(frame);
  }

  listen(): Promise<AddressInfo> {
    if (this.closing) return Promise.reject(new Error('the server was closed; create a new one'));
    this.started ??= (async () => {
      await this.broker.start({
        publication: (pub) => this.guard('publication', () => this.hub.deliver(pub)),
        join: (channel, client) => this.guard('join', () => this.hub.presence('join', channel, client)),
        leave: (channel, client) => this.guard('leave', () => this.hub.presence('leave', channel, client)),
        availability: (up) => this.guard('availability', () => this.brokerAvailability(up)),
      });
      this.running = true;
      this.presenceTimer = setInterval(() => this.refreshPresence(), Math.floor(this.o.presenceTtl / 3));
      this.presenceTimer.unref();
      if (!this.httpServer.listening) {
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error): void => reject(err);
          this.httpServer.once('error', onError);
          this.httpServer.listen(this.o.port, this.o.host, () => {
            this.httpServer.off('error', onError);
            resolve();
          });
        });
      }
    })();
    return this.started.then(() => {
      const address = this.address() as AddressInfo;
      this.logger.info({ address: address.address, port: address.port, path: this.o.path }, 'tether listening');
      return address;
    });
  }

  rpc(method: string, handler: RpcHandler): TetherServer {
    if (typeof method !== 'string' || method === '')
      throw new TypeError('rpc(method, handler): method must be a non-empty string');
    if (typeof handler !== 'function') throw new TypeError(`rpc("${method}", handler): handler must be a function`);
    this.rpcs.set(method, handler);
    return this;
  }

  publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const why = channelNameError(channel);
    if (why) throw new TypeError(`publish: ${why}`);
    // Client and HTTP data arrive decoded from JSON/MessagePack; server code can hand over anything.
    // Refuse what cannot be sent now rather than store a publication no subscriber can receive.
    let json: string | undefined;
    try {
      json = JSON.stringify(data);
    } catch {
      json = undefined;
    }
    if (json === undefined)
      throw new TypeError('publish: data must be JSON-serialisable (no undefined, BigInt or cycles)');
    if (
      options.key !== undefined &&
      (typeof options.key !== 'string' || options.key.length === 0 || options.key.length > 128)
    )
      throw new TypeError('publish: key must be a string of 1-128 characters');
    return this.publishFrom('server', channel, data, options.key);
  }

  history(channel: string, query?: HistoryQuery): Promise<HistoryResult> {
    return this.broker.history(channel, query);
  }

  presence(channel: string): Promise<PresenceClient[]> {
    return this.broker.presence(channel);
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    return handleApiRequest(this.api, req, res);
  }

  // ------------------------------------------------------------------ HTTP and upgrade

  private apiKeyValid(header: string | undefined): boolean {
    if (!this.apiKeyHash || !header) return false;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return false;
    // Hashing first makes both sides the same length, so the comparison time says nothing about the key.
    return timingSafeEqual(sha256(match[1] as string), this.apiKeyHash);
  }

  private readonly onClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  };

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (pathname !== this.o.path) {
      // On a shared server other upgrade listeners (dev servers, other endpoints) own other paths.
      if (this.ownServer) this.refuse(socket, 404, 'not_found', 'no WebSocket endpoint here');
      return;
    }
    socket.on('error', (err) => this.logger.debug({ err }, 'upgrade socket error'));
    this.upgrade(req, socket, head).catch((err: unknown) => {
      this.logger.error({ err }, 'upgrade failed');
      this.refuse(socket, 500, 'internal', 'internal error');
    });
  };

  private refuse(socket: Duplex, status: number, code: ErrorBody['code'], message: string): void {
    this.m.upgradeRejections.inc({ status: String(status) });
    rejectUpgrade(socket, status, code, message);
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.draining || !this.running)
      return this.refuse(socket, 503, 'unavailable', 'server is not accepting connections');
    if (this.sessions.size + this.upgrading >= this.o.limits.maxConnections)
      return this.refuse(socket, 503, 'unavailable', 'too many connections, try later');
    if (!originAllowed(req, this.o.allowedOrigins)) return this.refuse(socket, 403, 'forbidden', 'origin not allowed');
    const offered = req.headers['sec-websocket-protocol'];
    let codec: Codec = jsonCodec;
    if (offered !== undefined) {
      const protocols = new Set(offered.split(',').map((p) => p.trim()));
      const picked = pickProtocol(protocols);
      if (!picked)
        return this.refuse(
          socket,
          400,
          'bad_request',
          `unsupported subprotocol; offer ${SUBPROTOCOL_JSON} or ${SUBPROTOCOL_MSGPACK}`,
        );
      codec = picked === SUBPROTOCOL_MSGPACK ? msgpackCodec : jsonCodec;
    }
    this.upgrading += 1;
    let identity: Awaited<ReturnType<Authenticator['request']>>;
    try {
      identity = await this.auth.request(req);
    } catch (err) {
      const status = err instanceof AuthError ? err.status : 401;
      this.logger.debug(
        { url: redactUrl(req.url), reason: err instanceof Error ? err.message : 'error' },
        'auth refused',
      );
      if (status === 503) return this.refuse(socket, 503, 'unavailable', 'cannot verify tokens now, try later');
      return this.refuse(socket, 401, 'unauthorized', 'unauthorized');
    } finally {
      this.upgrading -= 1;
    }
    if (identity.expiresAt !== undefined && identity.expiresAt <= Date.now())
      return this.refuse(socket, 401, 'unauthorized', 'unauthorized');
    if (socket.destroyed) return;
    if (this.draining) return this.refuse(socket, 503, 'unavailable', 'server is not accepting connections');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, codec, identity, req));
  }

  // ------------------------------------------------------------------ connections

  private open(
    ws: WebSocket,
    codec: Codec,
    identity: Awaited<ReturnType<Authenticator['request']>>,
    req: IncomingMessage,
  ): void {
    const session = new Session(ws, codec, randomUUID(), identity, this.settings, this.m, (s) =>
      this.guard('release', () => this.release(s)),
    );
    this.sessions.add(session);
    this.m.connections.inc();
    this.m.connectionsTotal.inc();
    ws.on('error', (err) => this.logger.debug({ err, connectionId: session.connectionId }, 'socket error'));
    ws.on('message', (data, isBinary) => this.guard('frame', () => this.onFrame(session, data, isBinary)));
    ws.on('close', (code) => {
      this.logger.debug({ connectionId: session.connectionId, code: session.closeCode ?? code }, 'connection closed');
      this.guard('close', () => session.closed());
      this.sessions.delete(session);
      this.m.connections.dec();
      this.m.disconnects.inc({ code: String(session.closeCode ?? code) });
      if (this.sessions.size === 0) for (const wake of this.emptyWaiters.splice(0)) wake();
    });
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
        maxSubscriptions: limits.maxSubscriptions,
      },
    };
    if (identity.expiresAt !== undefined) welcome.expiresAt = identity.expiresAt;
    session.send(welcome);
    session.start();
    this.logger.debug(
      { connectionId: session.connectionId, user: identity.user, codec: codec.name, ip: req.socket.remoteAddress },
      'connection open',
    );
  }

  /** Close funnel hook: frees the connection's subscriptions and presence right away. */
  private release(s: Session): void {
    for (const [channel, entry] of s.subs) {
      this.hub.remove(channel, s);
      if (entry.state === 'live') this.m.subscriptions.dec();
      if (entry.present) this.removePresence(channel, s);
    }
    s.subs.clear();
  }

  private removePresence(channel: string, s: Session): void {
    this.broker
      .presenceRemove(channel, presenceClient(s))
      .catch((err: unknown) => this.logger.warn({ err, channel }, 'presence remove failed'));
  }

  private refreshPresence(): void {
    for (const s of this.sessions) {
      if (s.closing) continue;
      for (const [channel, entry] of s.subs) {
        if (!entry.present) continue;
        this.broker
          .presenceAdd(channel, presenceClient(s), this.o.presenceTtl)
          .catch((err: unknown) => this.logger.warn({ err, channel }, 'presence refresh failed'));
      }
    }
  }

  /** Runs a handler so that nothing it throws can take the process down. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err }, `${what} handler failed`);
    }
  }

  private onFrame(s: Session, data: RawData, isBinary: boolean): void {
    if (s.closing) return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    this.m.framesIn.inc();
    this.m.bytesIn.inc(bytes.length);
    const admitted = s.admit();
    if (s.closing) return;
    const decoded = decodeClientFrame(bytes, s.codec, isBinary);
    if (!admitted) {
      const error = { code: 'rate_limited', message: 'too many frames, slow down' } as const;
      const id = decoded.ok ? (decoded.frame as { id?: number }).id : decoded.id;
      s.send(id !== undefined ? { type: 'reply', id, ok: false, error } : { type: 'error', error });
      return;
    }
    if (!decoded.ok) {
      if (s.malformedFrame()) return;
      s.send(
        decoded.id !== undefined
          ? { type: 'reply', id: decoded.id, ok: false, error: decoded.error }
          : { type: 'error', error: decoded.error },
      );
      return;
    }
    this.dispatch(s, decoded.frame);
  }

  private dispatch(s: Session, f: ClientFrame): void {
    switch (f.type) {
      case 'ping':
        s.send(f.id !== undefined ? { type: 'pong', id: f.id } : { type: 'pong' });
        return;
      case 'pong':
        return;
      case 'heartbeat':
        s.send(f);
        return;
      case 'subscribe': {
        // Frames of one connection are handled in order, but a subscribe awaits the authorize hook and
        // history; a publish sent right behind it (an offline queue flushed after resubscribing) must
        // not be judged before the subscription exists.
        const done = this.subscribe(s, f).finally(() => {
          if (s.subscribing.get(f.channel) === done) s.subscribing.delete(f.channel);
        });
        s.subscribing.set(f.channel, done);
        return;
      }
      case 'unsubscribe':
        this.answer(s, f.id, 'unsubscribe', async () => {
          this.unsubscribe(s, f.channel);
          return {};
        });
        return;
      case 'publish':
        this.answer(s, f.id, 'publish', async () => {
          await s.subscribing.get(f.channel);
          const policy = this.ns.policy(f.channel);
          await this.checkAccess(s, f.channel, 'publish', policy);
          return this.store('client', f.channel, f.data, policy, f.key, s.user);
        });
        return;
      case 'presence':
        this.answer(s, f.id, 'presence', async () => {
          const policy = this.ns.policy(f.channel);
          await this.checkAccess(s, f.channel, 'presence', policy);
          if (!policy.presence) throw new RpcError('bad_request', `presence is off for "${f.channel}"`);
          return { clients: await this.broker.presence(f.channel) };
        });
        return;
      case 'rpc':
        this.answer(s, f.id, 'rpc', async () => {
          const handler = this.rpcs.get(f.method);
          if (!handler) throw new RpcError('not_found', `no RPC method "${f.method}"`);
          const running = Promise.resolve().then(() => handler(f.params, s.context()));
          const result = await withTimeout(running, this.o.rpcTimeout, () => {
            // The handler keeps running; its outcome no longer has anyone to go to.
            running.catch((err: unknown) =>
              this.logger.warn({ err, method: f.method }, 'RPC failed after its timeout'),
            );
            return new RpcError('timeout', `"${f.method}" did not answer within ${this.o.rpcTimeout} ms`);
          });
          return result === undefined ? null : result;
        });
        return;
      case 'refresh':
        this.answer(s, f.id, 'refresh', async () => {
          let identity: Awaited<ReturnType<Authenticator['token']>>;
          try {
            identity = await this.auth.token(f.token);
          } catch (err) {
            if (err instanceof AuthError && err.status === 503)
              throw new RpcError('unavailable', 'cannot verify tokens now');
            throw new RpcError('unauthorized', 'invalid token');
          }
          if (identity.user !== s.user) throw new RpcError('unauthorized', 'token is for another user');
          s.identity = { ...identity, info: identity.info ?? s.identity.info };
          s.armExpiry();
          // A narrower `channels` claim ends the subscriptions it no longer grants.
          for (const channel of [...s.subs.keys()]) {
            if (this.claimAllows(s, channel, this.ns.policy(channel))) continue;
            this.unsubscribe(s, channel);
            s.send({ type: 'unsubscribed', channel, reason: 'forbidden' });
          }
          return identity.expiresAt !== undefined ? { expiresAt: identity.expiresAt } : {};
        });
        return;
    }
  }

  /** Runs a command and sends exactly one reply, whatever happens. */
  private answer(s: Session, id: number, what: string, run: () => Promise<unknown>): void {
    run().then(
      (result) => s.send({ type: 'reply', id, ok: true, result }),
      (err: unknown) => s.send({ type: 'reply', id, ok: false, error: errorBody(err, this.logger, what) }),
    );
  }

  /**
   * Subscribe without a gap or a duplicate when publications race it: (1) register as pending —
   * publications from now on are buffered; (2) read history; (3) send the reply with everything
   * up to history's latest offset; (4) flush the buffered ones past that offset and go live.
   * Steps 3 and 4 run in one synchronous block.
   */
  private async subscribe(s: Session, f: SubscribeFrame): Promise<void> {
    const { id, channel } = f;
    try {
      const policy = this.ns.policy(channel);
      await this.checkAccess(s, channel, 'subscribe', policy);
      if (s.closing) return;
      const existing = s.subs.get(channel);
      if (!existing && s.subs.size >= this.o.limits.maxSubscriptions)
        throw new RpcError('bad_request', `at most ${this.o.limits.maxSubscriptions} subscriptions per connection`);
      if (existing?.state === 'live') this.m.subscriptions.dec();
      const entry = { state: 'pending' as 'pending' | 'live', present: existing?.present ?? false };
      s.subs.set(channel, entry);
      let history: HistoryResult;
      try {
        await this.hub.addPending(channel, s);
        history = await this.broker.history(channel, f.since ? { since: f.since.offset } : { limit: 0 });
      } catch (err) {
        if (s.subs.get(channel) === entry) this.unsubscribe(s, channel);
        throw err;
      }
      if (s.closing) return;
      if (s.subs.get(channel) !== entry)
        throw new RpcError('bad_request', 'superseded by a later subscribe or unsubscribe of this channel');
      s.send({ type: 'reply', id, ok: true, result: subscribeResult(f.since, history) });
      if (!this.hub.goLive(channel, s, history.offset, history.epoch)) return;
      entry.state = 'live';
      this.m.subscriptions.inc();
      if (policy.presence && !entry.present) {
        entry.present = true;
        this.broker
          .presenceAdd(channel, presenceClient(s), this.o.presenceTtl)
          .catch((err: unknown) => this.logger.warn({ err, channel }, 'presence add failed'));
      }
    } catch (err) {
      s.send({ type: 'reply', id, ok: false, error: errorBody(err, this.logger, 'subscribe') });
    }
  }

  private unsubscribe(s: Session, channel: string): void {
    const entry = s.subs.get(channel);
    if (!entry) return;
    s.subs.delete(channel);
    this.hub.remove(channel, s);
    if (entry.state === 'live') this.m.subscriptions.dec();
    if (entry.present) this.removePresence(channel, s);
  }

  /** Does the token's `channels` claim (or its absence) let this connection use `channel`? */
  private claimAllows(s: Session, channel: string, policy: ChannelPolicy): boolean {
    if (policy.privateTo !== undefined) return policy.privateTo === s.user;
    const claim = s.channels;
    if (!claim) return policy.subscribe !== 'claim';
    return claim.some((pattern) => matchChannel(pattern, channel));
  }

  /** The namespace rules, the token's `channels` claim, then the `authorize` hook. Throws `forbidden`. */
  private async checkAccess(s: Session, channel: string, action: ChannelAction, policy: ChannelPolicy): Promise<void> {
    if (policy.privateTo !== undefined) {
      if (action === 'publish') throw forbidden(`only the server publishes to "${channel}"`);
      if (policy.privateTo !== s.user) throw forbidden(`"${channel}" is another user's private channel`);
    } else {
      if (action === 'publish') {
        if (policy.publish === 'server' || policy.publish === 'nobody')
          throw forbidden(`clients may not publish to "${channel}"`);
        if (policy.publish === 'subscribers' && !s.subs.has(channel))
          throw forbidden(`subscribe to "${channel}" before publishing to it`);
      } else if (policy.subscribe === 'nobody') {
        throw forbidden(`clients may not subscribe to "${channel}"`);
      }
      if (!this.claimAllows(s, channel, policy)) throw forbidden(`the token does not grant "${channel}"`);
    }
    if (this.options.authorize) {
      const verdict = await this.options.authorize(s.context(), channel, action);
      if (verdict === false) throw forbidden(`not allowed to ${action} "${channel}"`);
    }
  }

  private publishFrom(source: 'server' | 'http', channel: string, data: unknown, key?: string): Promise<PublishResult> {
    const policy = this.ns.policy(channel);
    if (policy.publish === 'nobody') return Promise.reject(forbidden(`nobody may publish to "${channel}"`));
    return this.store(source, channel, data, policy, key);
  }

  private async store(
    source: 'client' | 'server' | 'http',
    channel: string,
    data: unknown,
    policy: ChannelPolicy,
    key?: string,
    from?: string,
  ): Promise<PublishResult> {
    if (data === undefined) throw new RpcError('bad_request', 'data must not be undefined');
    if (Number.isFinite(policy.maxDataSize) && Buffer.byteLength(JSON.stringify(data)) > policy.maxDataSize)
      throw new RpcError('too_large', `data larger than ${policy.maxDataSize} bytes`);
    const out = await this.broker.publish(channel, data, {
      ...(key !== undefined && { key }),
      ...(from !== undefined && { from }),
      historySize: policy.historySize,
      historyTtl: policy.historyTtl,
      dedupTtl: this.o.dedupTtl,
    });
    if (!out.duplicate) this.m.publications.inc({ source });
    return { offset: out.publication.offset, epoch: out.publication.epoch };
  }

  // ------------------------------------------------------------------ draining

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.drain(options.deadline ?? this.o.drainDeadline);
    return this.closing;
  }

  private async drain(deadline: number): Promise<void> {
    const end = Date.now() + deadline;
    this.draining = true;
    // A close() racing listen(): let listen finish, so the server it opens is closed below.
    if (this.started) await this.started.catch(() => {});
    this.logger.info({ connections: this.sessions.size, deadline }, 'draining');
    if (this.o.drainDelay > 0) await delay(Math.min(this.o.drainDelay, deadline / 2));
    // Close in batches of 10 %, spread over at most half the deadline, so clients do not all
    // reconnect to the other nodes in the same instant.
    const all = [...this.sessions];
    const batches = Math.min(10, all.length);
    const tick = batches > 1 ? Math.min(100, Math.max(1, (end - Date.now()) / 2 / batches)) : 0;
    const size = Math.ceil(all.length / Math.max(1, batches));
    for (let i = 0; i < all.length; i += size) {
      for (const s of all.slice(i, i + size)) s.close(CloseCode.SERVICE_RESTART, 'server restarting');
      if (i + size < all.length) await delay(tick);
    }
    // Let the close handshakes (and the bytes queued before them) finish, then cut stragglers.
    if (this.sessions.size > 0) {
      await Promise.race([
        new Promise<void>((resolve) => this.emptyWaiters.push(resolve)),
        delay(Math.max(0, end - Date.now())),
      ]);
      if (this.sessions.size > 0) {
        for (const s of this.sessions) s.ws.terminate();
        // terminate() destroys the socket; its 'close' (and our bookkeeping) follows within a tick or two.
        await Promise.race([new Promise<void>((resolve) => this.emptyWaiters.push(resolve)), delay(1_000)]);
      }
    }
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    this.wss.close();
    this.httpServer.off('upgrade', this.onUpgrade);
    this.httpServer.off('clientError', this.onClientError);
    if (this.ownServer && this.httpServer.listening) {
      await new Promise<void>((resolve) => {
        this.httpServer.close(() => resolve());
        this.httpServer.closeIdleConnections();
        // Keep-alive HTTP clients get until the deadline; then their sockets are cut too.
        const cut = setTimeout(() => this.httpServer.closeAllConnections(), Math.max(0, end - Date.now()));
        cut.unref();
      });
    }
    if (this.started) {
      await this.started.catch(() => {});
      await this.broker.close().catch((err: unknown) => this.logger.warn({ err }, 'broker close failed'));
    }
    this.running = false;
    this.logger.info('closed');
  }
}

/** Resolves like `p`, or rejects with `onTimeout()` after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

function pickProtocol(protocols: Set<string>): string | undefined {
  for (const p of protocols) if (p === SUBPROTOCOL_JSON || p === SUBPROTOCOL_MSGPACK) return p;
  return undefined;
}

function presenceClient(s: Session): PresenceClient {
  const client: PresenceClient = { user: s.user, connectionId: s.connectionId };
  if (s.info !== undefined) client.info = s.info;
  return client;
}

export type { ClientContext } from './session.js';
export type { AuthorizeHook, ChannelAction, HeartbeatOptions, LimitOptions, RpcHandler, ServerOptions };
