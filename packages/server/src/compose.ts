/**
 * The composition root of one server: builds each part from the options and wires them to one
 * another (upgrade admission, connections, commands, channels, publishing, the HTTP API, the
 * admin dashboard). `server.ts` owns what happens over time: listen, drain, close.
 * @module
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { type Broker, createMemoryBroker, createMemoryPresence, type PresenceStore } from '@tether/broker';
import { type AdminSetup, adminAuthorize, adminNamespaces, setupAdmin } from './admin/index.js';
import { apiKeyCheck, createAuthenticator, type Identity } from './auth.js';
import { Channels } from './channels.js';
import { frameHandler } from './commands.js';
import { Connections } from './connections.js';
import { createDevLogin } from './dev-login.js';
import { type ApiBackend, handleApiRequest, requestListener } from './http-api.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import { Namespaces } from './namespaces.js';
import { type Resolved, type RpcHandler, resolveOptions, type ServerOptions } from './options.js';
import { presencePage } from './presence-page.js';
import { Publisher } from './publishing.js';
import { FailureLimiter } from './rate-limit.js';
import type { Session } from './session.js';
import { attachEndpoint } from './upgrade.js';

/** What the lifecycle decides and the parts read: owned by the server (`server.ts`). */
export interface Lifecycle {
  /** The broker and presence store started and the server listens. */
  running: boolean;
  /** `close()` began: unready, no new upgrades. */
  draining: boolean;
}

/** The parts of one server, wired. */
export interface Parts {
  o: Resolved;
  logger: Logger;
  metrics: ServerMetrics;
  broker: Broker;
  store: PresenceStore;
  channels: Channels;
  publisher: Publisher;
  conns: Connections;
  httpServer: Server;
  /** The HTTP server was made here (not passed in `options.server`), so closing it is ours. */
  ownServer: boolean;
  rpcs: Map<string, RpcHandler>;
  /** The admin dashboard's server side, when `admin` is on. */
  admin: AdminSetup | undefined;
  /** Serves the HTTP API and admin routes; false when `req` is neither. */
  handle: Parameters<typeof requestListener>[0];
  /** Stops handling upgrades. */
  detach: () => void;
}

export function compose(options: ServerOptions, life: Lifecycle): Parts {
  const o = resolveOptions(options);
  const auth = createAuthenticator(options.auth);
  const ns = new Namespaces(options.admin ? adminNamespaces(options.namespaces) : options.namespaces);
  const logger = options.logger ?? createLogger(options.logLevel);
  const metrics = createMetrics();
  const broker = options.broker ?? createMemoryBroker();
  const store = options.presence ?? broker.presence ?? createMemoryPresence();
  const channels = new Channels(broker, store, metrics, logger, o);
  const publisher = new Publisher(broker, ns, metrics, o.dedupTtl);
  const rpcs = new Map<string, RpcHandler>();
  const base = { logger, metrics, auth };
  const frame = frameHandler({
    ...base,
    ns,
    channels,
    publisher,
    presence: store,
    maxPresencePage: o.maxPresencePage,
    rpcs,
    rpcTimeout: o.rpcTimeout,
    authorize: options.admin ? adminAuthorize(options.authorize) : options.authorize,
  });
  const hooks = { frame, closing: (s: Session) => channels.removeAll(s) };
  const conns = new Connections(o, metrics, logger, hooks, ns.fallback.maxDataSize);
  const admin = options.admin
    ? setupAdmin({
        options: options.admin,
        auth: options.auth,
        apiKey: options.apiKey,
        authenticator: auth,
        broker,
        presence: store,
        metrics,
        channels,
        sessions: conns.sessions,
        logger,
        dedupTtl: o.dedupTtl,
        routes: {
          wsPath: o.path,
          maxPayload: o.limits.maxPayload,
          history: (channel) => broker.history(channel),
          publish: (channel, data) => publisher.fromBackend('http', channel, data),
        },
      })
    : undefined;
  const devLogin = createDevLogin(options);
  const api: ApiBackend = {
    logger,
    registry: metrics.registry,
    maxPayload: o.limits.maxPayload,
    apiKeyValid: apiKeyCheck(options.apiKey),
    apiKeyFailures: new FailureLimiter(o.limits.apiKeyFailures, 60_000),
    ready: () => life.running && !life.draining && broker.available(),
    publish: (channel, data, key) => publisher.fromBackend('http', channel, data, { key }),
    history: (channel, query) => broker.history(channel, query),
    presence: (channel, query) => presencePage(store, channel, query, o.maxPresencePage),
    ...(devLogin && { devLogin }),
  };
  const handle: Parts['handle'] = (req, res) => (admin?.handle(req, res) ?? false) || handleApiRequest(api, req, res);
  const ownServer = !options.server;
  const httpServer = options.server ?? createHttpServer(requestListener(handle, options.onRequest, logger));
  const detach = attachEndpoint(httpServer, {
    ...base,
    ...(admin && { auth: admin.authenticator, refused: (id: Identity) => admin.admin.refused(id) }),
    o,
    ownServer,
    accepting: () => life.running && !life.draining,
    connections: () => conns.size,
    open: (ws, codec, identity, req) => conns.open(ws, codec, identity, req),
  });
  return {
    o,
    logger,
    metrics,
    broker,
    store,
    channels,
    publisher,
    conns,
    httpServer,
    ownServer,
    rpcs,
    admin,
    handle,
    detach,
  };
}
