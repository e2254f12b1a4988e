/**
 * `createServer`: the Tether server — WebSocket endpoint (`ws` in `noServer` mode), HTTP API and
 * probes on one `node:http` server. `compose.ts` builds and wires the parts — admission
 * (`upgrade.ts`), frames and commands (`commands.ts`), channel state and fan-out (`channels.ts`),
 * publishing (`publishing.ts`); `Tether` here owns their life: listen, drain (`drain.ts`), close.
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Broker, HistoryQuery, HistoryResult } from '@tether/broker';
import type { PresenceClient, PublishResult } from '@tether/protocol';
import type { Registry } from 'prom-client';
import { compose, type Lifecycle, type Parts } from './compose.js';
import { closeConnections, closeHttpServer } from './drain.js';
import { listenOn } from './http-util.js';
import { guarded, type Logger } from './logger.js';
import { type CloseOptions, ms, type RpcHandler, type ServerOptions, type ServerPublishOptions } from './options.js';
import { validateServerPublish } from './publishing.js';

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
  private readonly p: Parts;
  /** The one owner of `running` and `draining`; the parts read it. */
  private readonly life: Lifecycle = { running: false, draining: false };
  private started: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    this.p = compose(options, this.life);
    ({ httpServer: this.httpServer, broker: this.broker, logger: this.logger } = this.p);
  }

  get draining(): boolean {
    return this.life.draining;
  }

  get metrics(): Registry {
    return this.p.metrics.registry;
  }

  get connections(): number {
    return this.p.conns.size;
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
            if (!this.p.admin?.admin.control(pub)) this.p.channels.deliver(pub);
          }),
        availability: (up) => guarded(this.logger, 'availability', () => this.brokerAvailability(up)),
      });
      await this.p.store.start({
        join: (channel, client) =>
          guarded(this.logger, 'join', () => this.p.channels.announce('join', channel, client)),
        leave: (channel, client) =>
          guarded(this.logger, 'leave', () => this.p.channels.announce('leave', channel, client)),
      });
      this.life.running = true;
      this.p.channels.startRefresh();
      if (!this.httpServer.listening) await listenOn(this.httpServer, this.p.o.port, this.p.o.host);
      const bound = this.address();
      await this.p.admin?.admin.start(bound ? `${bound.address}:${bound.port}` : '');
    })();
    return this.started.then(() => {
      const address = this.address() as AddressInfo;
      this.logger.info({ address: address.address, port: address.port, path: this.p.o.path }, 'tether listening');
      return address;
    });
  }

  rpc(method: string, handler: RpcHandler): TetherServer {
    if (typeof method !== 'string' || method === '')
      throw new TypeError('rpc(method, handler): method must be a non-empty string');
    if (typeof handler !== 'function') throw new TypeError(`rpc("${method}", handler): handler must be a function`);
    this.p.rpcs.set(method, handler);
    return this;
  }

  publish(channel: string, data: unknown, options: ServerPublishOptions = {}): Promise<PublishResult> {
    const bytes = validateServerPublish(channel, data, options.key);
    return this.p.publisher.fromBackend('server', channel, data, { key: options.key, bytes });
  }

  history(channel: string, query?: HistoryQuery): Promise<HistoryResult> {
    return this.broker.history(channel, query);
  }

  presence(channel: string): Promise<PresenceClient[]> {
    return this.p.store.list(channel);
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    return this.p.handle(req, res);
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown({
      deadline: ms(options.deadline, this.p.o.drainDeadline, 'close deadline'),
      delay: ms(options.delay, this.p.o.drainDelay, 'close delay'),
      spread: ms(options.spread, this.p.o.drainSpread, 'close spread'),
    });
    return this.closing;
  }

  /** The broker lost or regained its store (see `Channels.brokerDown`). */
  private brokerAvailability(up: boolean): void {
    this.logger[up ? 'info' : 'warn']({ broker: this.broker.name }, `broker ${up ? 'up' : 'down'}`);
    if (!up) this.p.channels.brokerDown();
  }

  /** Unready, drain the connections, then stop listening and close the presence store and broker. */
  private async shutdown(drain: { deadline: number; delay: number; spread: number }): Promise<void> {
    const start = Date.now();
    const end = start + drain.deadline;
    this.life.draining = true;
    // A close() racing listen(): let listen finish, so the server it opens is closed below.
    if (this.started) await this.started.catch(() => {});
    this.logger.info({ connections: this.p.conns.size, ...drain }, 'draining');
    // The HTTP API keeps answering (publishes included) until the HTTP server closes below.
    const report = await closeConnections(this.p.conns.sessions, start, drain, () => this.p.conns.emptied());
    this.logger.info({ ...report.plan, sizes: report.sizes, terminated: report.terminated }, 'clients drained');
    this.p.channels.stopRefresh();
    await this.p.admin?.admin.stop();
    this.p.detach();
    if (this.p.ownServer && this.httpServer.listening) await closeHttpServer(this.httpServer, end);
    if (this.started) {
      await this.started.catch(() => {});
      await this.p.store.close().catch((err: unknown) => this.logger.warn({ err }, 'presence close failed'));
      await this.broker.close().catch((err: unknown) => this.logger.warn({ err }, 'broker close failed'));
    }
    this.life.running = false;
    this.logger.info('closed');
  }
}
