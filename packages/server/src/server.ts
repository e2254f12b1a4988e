/**
 * `createServer`: the Tether server — WebSocket endpoint (`ws` in `noServer` mode), HTTP API and
 * probes on one `node:http` server. `Tether` only composes the parts: admission (`upgrade.ts`),
 * frames and commands (`commands.ts`), channel state and fan-out (`channels.ts`), publishing
 * (`publishing.ts`) and draining (`drain.ts`).
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Broker,
  createMemoryBroker,
  createMemoryPresence,
  type HistoryQuery,
  type HistoryResult,
  type PresenceStore,
} from '@tether/broker';
import type { PresenceClient, PublishResult } from '@tether/protocol';
import type { Registry } from 'prom-client';
import { type AdminSetup, adminAuthorize, adminNamespaces, setupAdmin } from './admin/index.js';
import { apiKeyCheck, createAuthenticator } from './auth.js';
import { Channels } from './channels.js';
import { frameHandler } from './commands.js';
import { Connections } from './connections.js';
import { createDevLogin } from './dev-login.js';
import { closeConnections, closeHttpServer } from './drain.js';
import { type ApiBackend, handleApiRequest, requestListener } from './http-api.js';
import { listenOn } from './http-util.js';
import { createLogger, guarded, type Logger } from './logger.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import { Namespaces } from './namespaces.js';
import {
  type CloseOptions,
  ms,
  type Resolved,
  type RpcHandler,
  resolveOptions,
  type ServerOptions,
  type ServerPublishOptions,
} from './options.js';
import { Publisher, validateServerPublish } from './publishing.js';
import { FailureLimiter } from './rate-limit.js';
import type { Session } from './session.js';
import { attachEndpoint } from './upgrade.js';

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
  publish(channel: string, data: unknown, options?: ServerPublishOptions): Promise<PublishResult>;
  history(channel: string, query?: HistoryQuery): Promise<HistoryResult>;
  presence(channel: string): Promise<PresenceClient[]>;
  /** Serves the HTTP API routes; returns false when `req` is not one of them. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
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
  draining = false;
  private readonly o: Resolved;
  private readonly store: PresenceStore;
  private readonly m: ServerMetrics = createMetrics();
  private readonly channels: Channels;
  private readonly publisher: Publisher;
  private readonly conns: Connections;
  private readonly ownServer: boolean;
  private readonly rpcs = new Map<string, RpcHandler>();
  private readonly api: ApiBackend;
  private readonly detach: () => void;
  /** The admin dashboard's server side, when `admin` is on. */
  private readonly admin: AdminSetup | undefined;
  private started: Promise<void> | undefined;
  private running = false;
  private closing: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    this.o = resolveOptions(options);
    const auth = createAuthenticator(options.auth);
    const devLogin = createDevLogin(options);
    const ns = new Namespaces(options.admin ? adminNamespaces(options.namespaces) : options.namespaces);
    this.logger = options.logger ?? createLogger(options.logLevel);
    this.broker = options.broker ?? createMemoryBroker();
    this.store = options.presence ?? this.broker.presence ?? createMemoryPresence();
    this.channels = new Channels(this.broker, this.store, this.m, this.logger, this.o);
    this.publisher = new Publisher(this.broker, ns, this.m, this.o.dedupTtl);
    this.ownServer = !options.server;
    this.httpServer =
      options.server ??
      createHttpServer(requestListener((req, res) => this.handleRequest(req, res), options.onRequest, this.logger));
    const base = { logger: this.logger, metrics: this.m, auth };
    const frame = frameHandler({
      ...base,
      ns,
      channels: this.channels,
      publisher: this.publisher,
      presence: this.store,
      rpcs: this.rpcs,
      rpcTimeout: this.o.rpcTimeout,
      authorize: options.admin ? adminAuthorize(options.authorize) : options.authorize,
    });
    const hooks = { frame, closing: (s: Session) => this.channels.removeAll(s) };
    this.conns = new Connections(this.o, this.m, this.logger, hooks, ns.fallback.maxDataSize);
    this.admin = options.admin
      ? setupAdmin({
          options: options.admin,
          auth: options.auth,
          apiKey: options.apiKey,
          authenticator: auth,
          broker: this.broker,
          presence: this.store,
          metrics: this.m,
          channels: this.channels,
          sessions: this.conns.sessions,
          logger: this.logger,
          dedupTtl: this.o.dedupTtl,
          routes: {
            wsPath: this.o.path,
            maxPayload: this.o.limits.maxPayload,
            history: (channel) => this.broker.history(channel),
            publish: (channel, data) => this.publisher.fromBackend('http', channel, data),
          },
        })
      : undefined;
    this.detach = attachEndpoint(this.httpServer, {
      ...base,
      ...(this.admin && { auth: this.admin.authenticator, refused: (id) => this.admin?.admin.refused(id) }),
      o: this.o,
      ownServer: this.ownServer,
      accepting: () => this.running && !this.draining,
      connections: () => this.conns.size,
      open: (ws, codec, identity, req) => this.conns.open(ws, codec, identity, req),
    });

    this.api = {
      logger: this.logger,
      registry: this.m.registry,
      maxPayload: this.o.limits.maxPayload,
      apiKeyValid: apiKeyCheck(options.apiKey),
      apiKeyFailures: new FailureLimiter(this.o.limits.apiKeyFailures, 60_000),
      ready: () => this.running && !this.draining && this.broker.available(),
      publish: (channel, data, key) => this.publisher.fromBackend('http', channel, data, { key }),
      history: (channel, query) => this.broker.history(channel, query),
      presence: (channel) => this.store.list(channel),
      ...(devLogin && { devLogin }),
    };
  }

  get metrics(): Registry {
    return this.m.registry;
  }

  get connections(): number {
    return this.conns.size;
  }

  address(): AddressInfo | null {
    const a = this.httpServer.address();
    return a && typeof a === 'object' ? a : null;
  }

  listen(): Promise<AddressInfo> {
    if (this.closing) return Promise.reject(new Error('the server was closed; create a new one'));
    this.started ??= (async () => {
      await this.broker.start({
        publication: (pub) =>
          guarded(this.logger, 'publication', () => {
            if (!this.admin?.admin.control(pub)) this.channels.deliver(pub);
          }),
        availability: (up) => guarded(this.logger, 'availability', () => this.brokerAvailability(up)),
      });
      await this.store.start({
        join: (channel, client) => guarded(this.logger, 'join', () => this.channels.announce('join', channel, client)),
        leave: (channel, client) =>
          guarded(this.logger, 'leave', () => this.channels.announce('leave', channel, client)),
      });
      this.running = true;
      this.channels.startRefresh();
      if (!this.httpServer.listening) await listenOn(this.httpServer, this.o.port, this.o.host);
      const bound = this.address();
      await this.admin?.admin.start(bound ? `${bound.address}:${bound.port}` : '');
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

  publish(channel: string, data: unknown, options: ServerPublishOptions = {}): Promise<PublishResult> {
    const bytes = validateServerPublish(channel, data, options.key);
    return this.publisher.fromBackend('server', channel, data, { key: options.key, bytes });
  }

  history(channel: string, query?: HistoryQuery): Promise<HistoryResult> {
    return this.broker.history(channel, query);
  }

  presence(channel: string): Promise<PresenceClient[]> {
    return this.store.list(channel);
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    return (this.admin?.handle(req, res) ?? false) || handleApiRequest(this.api, req, res);
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown({
      deadline: ms(options.deadline, this.o.drainDeadline, 'close deadline'),
      delay: ms(options.delay, this.o.drainDelay, 'close delay'),
      spread: ms(options.spread, this.o.drainSpread, 'close spread'),
    });
    return this.closing;
  }

  /** The broker lost or regained its store (see `Channels.brokerDown`). */
  private brokerAvailability(up: boolean): void {
    this.logger[up ? 'info' : 'warn']({ broker: this.broker.name }, `broker ${up ? 'up' : 'down'}`);
    if (!up) this.channels.brokerDown();
  }

  /** Unready, drain the connections, then stop listening and close the presence store and broker. */
  private async shutdown(drain: { deadline: number; delay: number; spread: number }): Promise<void> {
    const start = Date.now();
    const end = start + drain.deadline;
    this.draining = true;
    // A close() racing listen(): let listen finish, so the server it opens is closed below.
    if (this.started) await this.started.catch(() => {});
    this.logger.info({ connections: this.conns.size, ...drain }, 'draining');
    // The HTTP API keeps answering (publishes included) until the HTTP server closes below.
    const report = await closeConnections(this.conns.sessions, start, drain, () => this.conns.emptied());
    this.logger.info({ ...report.plan, sizes: report.sizes, terminated: report.terminated }, 'clients drained');
    this.channels.stopRefresh();
    await this.admin?.admin.stop();
    this.detach();
    if (this.ownServer && this.httpServer.listening) await closeHttpServer(this.httpServer, end);
    if (this.started) {
      await this.started.catch(() => {});
      await this.store.close().catch((err: unknown) => this.logger.warn({ err }, 'presence close failed'));
      await this.broker.close().catch((err: unknown) => this.logger.warn({ err }, 'broker close failed'));
    }
    this.running = false;
    this.logger.info('closed');
  }
}

export type {
  AuthorizeHook,
  ChannelAction,
  CloseOptions,
  HeartbeatOptions,
  LimitOptions,
  RpcHandler,
  ServerHeartbeatOptions,
  ServerOptions,
  ServerPublishOptions,
} from './options.js';
