/**
 * Upgrade admission: which requests become WebSocket connections. The steps run in order —
 * path, draining, capacity, origin, codec (subprotocol), authentication, token expiry, a user an
 * operator refused — and the first that refuses answers with a plain HTTP error; only then does
 * `ws` complete the upgrade.
 * @module
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Codec, type ErrorCode, jsonCodec, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from '@tether/protocol';
import { msgpackCodec } from '@tether/protocol/msgpack';
import { type WebSocket, WebSocketServer } from 'ws';
import { AuthError, type Authenticator, type Identity, originAllowed } from './auth.js';
import { HTTP_STATUS } from './errors.js';
import { rejectUpgrade } from './http-util.js';
import { type Logger, redactUrl } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import type { Resolved } from './options.js';

/** What admission needs from the server. */
export interface UpgradeContext {
  o: Pick<Resolved, 'path' | 'limits' | 'allowedOrigins'>;
  /** Whether the HTTP server is Tether's own (then other paths are answered 404, else left alone). */
  ownServer: boolean;
  logger: Logger;
  metrics: ServerMetrics;
  auth: Authenticator;
  /** False before `listen()` finished and once draining began. */
  accepting(): boolean;
  /** Open connections. */
  connections(): number;
  /** Why this user may not connect now (an operator refused them), or undefined. */
  refused?(identity: Identity): string | undefined;
  /** Takes over a completed upgrade. */
  open(ws: WebSocket, codec: Codec, identity: Identity, req: IncomingMessage): void;
}

/** Why an upgrade is refused; `message` never contains anything from the request. */
class Refusal {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
  ) {}
}

const NOT_ACCEPTING = new Refusal('unavailable', 'server is not accepting connections');
const UNAUTHORIZED = new Refusal('unauthorized', 'unauthorized');

/** The subprotocol to answer with, of those offered. */
export function pickProtocol(protocols: Set<string>): string | undefined {
  for (const p of protocols) if (p === SUBPROTOCOL_JSON || p === SUBPROTOCOL_MSGPACK) return p;
  return undefined;
}

/** The codec for the offered subprotocols: JSON when none is offered. */
function chooseCodec(req: IncomingMessage): Codec | Refusal {
  const offered = req.headers['sec-websocket-protocol'];
  if (offered === undefined) return jsonCodec;
  const picked = pickProtocol(new Set(offered.split(',').map((p) => p.trim())));
  if (!picked)
    return new Refusal('bad_request', `unsupported subprotocol; offer ${SUBPROTOCOL_JSON} or ${SUBPROTOCOL_MSGPACK}`);
  return picked === SUBPROTOCOL_MSGPACK ? msgpackCodec : jsonCodec;
}

/**
 * Serves the WebSocket endpoint on `server`: adds its `upgrade` and `clientError` listeners.
 * Returns the function that removes them again and closes the endpoint.
 */
export function attachEndpoint(server: Server, u: UpgradeContext): () => void {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: u.o.limits.maxPayload,
    perMessageDeflate: false,
    clientTracking: false,
    // The subprotocol was checked before the upgrade; this only echoes the chosen one.
    handleProtocols: (protocols) => pickProtocol(protocols) ?? false,
  });
  wss.on('error', (err) => u.logger.warn({ err }, 'WebSocket server error'));
  /** Upgrades waiting for authentication: they count against `maxConnections` already. */
  let authenticating = 0;

  const draining = (): Refusal | undefined => (u.accepting() ? undefined : NOT_ACCEPTING);
  const capacity = (): Refusal | undefined =>
    u.connections() + authenticating >= u.o.limits.maxConnections
      ? new Refusal('unavailable', 'too many connections, try later')
      : undefined;
  const origin = (req: IncomingMessage): Refusal | undefined =>
    originAllowed(req, u.o.allowedOrigins) ? undefined : new Refusal('forbidden', 'origin not allowed');

  const authenticate = async (req: IncomingMessage): Promise<Identity | Refusal> => {
    authenticating += 1;
    try {
      return await u.auth.request(req);
    } catch (err) {
      u.logger.debug({ url: redactUrl(req.url), reason: err instanceof Error ? err.message : 'error' }, 'auth refused');
      if (err instanceof AuthError && err.status === 503)
        return new Refusal('unavailable', 'cannot verify tokens now, try later');
      return UNAUTHORIZED;
    } finally {
      authenticating -= 1;
    }
  };
  const expiry = (identity: Identity): Refusal | undefined =>
    identity.expiresAt !== undefined && identity.expiresAt <= Date.now() ? UNAUTHORIZED : undefined;
  const refusedUser = (identity: Identity): Refusal | undefined => {
    const why = u.refused?.(identity);
    return why === undefined ? undefined : new Refusal('forbidden', why);
  };

  /** Every admission step, in order: the connection's codec and identity, or the first refusal. */
  const admit = async (req: IncomingMessage): Promise<{ codec: Codec; identity: Identity } | Refusal> => {
    const early = draining() ?? capacity() ?? origin(req);
    if (early) return early;
    const codec = chooseCodec(req);
    if (codec instanceof Refusal) return codec;
    const identity = await authenticate(req);
    if (identity instanceof Refusal) return identity;
    // Draining may have begun while the token was checked.
    return expiry(identity) ?? refusedUser(identity) ?? draining() ?? { codec, identity };
  };

  const refuse = (socket: Duplex, { code, message }: Refusal): void => {
    const status = HTTP_STATUS[code];
    u.metrics.upgradeRejections.inc({ status: String(status) });
    rejectUpgrade(socket, status, code, message);
  };

  const complete = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const admitted = await admit(req);
    if (admitted instanceof Refusal) return refuse(socket, admitted);
    if (socket.destroyed) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      // The socket is `ws`'s now, with its own error listener: ours would stay for the
      // connection's whole life (an array of two listeners on every socket).
      socket.off('error', onSocketError);
      u.open(ws, admitted.codec, admitted.identity, req);
    });
  };

  /** Errors of a socket still being admitted (one function for all, not a closure per upgrade). */
  const onSocketError = (err: Error): void => u.logger.debug({ err }, 'upgrade socket error');

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (pathname !== u.o.path) {
      // On a shared server other upgrade listeners (dev servers, other endpoints) own other paths.
      if (u.ownServer) refuse(socket, new Refusal('not_found', 'no WebSocket endpoint here'));
      return;
    }
    socket.on('error', onSocketError);
    complete(req, socket, head).catch((err: unknown) => {
      u.logger.error({ err }, 'upgrade failed');
      refuse(socket, new Refusal('internal', 'internal error'));
    });
  };

  const onClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // Headers past Node's limit (16 KiB by default, `--max-http-header-size`) are 431, as Node
    // itself would answer; every other parse error is 400.
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  };

  server.on('upgrade', onUpgrade);
  server.on('clientError', onClientError);
  return () => {
    wss.close();
    server.off('upgrade', onUpgrade);
    server.off('clientError', onClientError);
  };
}
