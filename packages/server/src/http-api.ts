/**
 * The HTTP side of the server: a tiny router for the publish/history/presence API, health and
 * readiness probes, Prometheus metrics and the development login.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type HistoryQuery, type HistoryResult, isBrokerUnavailable } from '@tether/broker';
import {
  channelNameError,
  MAX_CURSOR_LENGTH,
  MAX_KEY_LENGTH,
  type PresenceResult,
  type PublishResult,
} from '@tether/protocol';
import type { Registry } from 'prom-client';
import { HTTP_STATUS } from './errors.js';
import { type BodyResult, readJsonBody, sendError, sendJson } from './http-util.js';
import type { Logger } from './logger.js';
import { redactUrl } from './logger.js';
import type { PresencePageQuery } from './presence-page.js';
import type { FailureLimiter } from './rate-limit.js';
import { historyComplete } from './recovery.js';
import { RpcError } from './rpc-error.js';

/** @internal What the router needs from the server. */
export interface ApiBackend {
  logger: Logger;
  registry: Registry;
  maxPayload: number;
  /** Constant-time check of an `Authorization: Bearer <api key>` header; false when no key is configured. */
  apiKeyValid(header: string | undefined): boolean;
  /** Failed API-key attempts per address (`limits.apiKeyFailures` a minute). */
  apiKeyFailures: FailureLimiter;
  ready(): boolean;
  publish(channel: string, data: unknown, key: string | undefined): Promise<PublishResult>;
  history(channel: string, query: HistoryQuery): Promise<HistoryResult>;
  /** One page, `limit` lowered to the server's `maxPresencePage`. */
  presence(channel: string, query: PresencePageQuery): Promise<PresenceResult>;
  /** Present only when the development login is on. */
  devLogin?: (body: unknown) => Promise<{ token: string }>;
}

function fail(res: ServerResponse, err: unknown, logger: Logger): void {
  if (err instanceof RpcError) {
    sendError(res, HTTP_STATUS[err.code], err.code, err.message);
    return;
  }
  if (isBrokerUnavailable(err)) {
    sendError(res, 503, 'unavailable', 'broker unavailable');
    return;
  }
  logger.error({ err }, 'HTTP API handler failed');
  sendError(res, 500, 'internal', 'internal error');
}

/** Reads a JSON body; a body that is too large or not JSON is answered here and gives `undefined`. */
async function jsonBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<BodyResult | undefined> {
  const body = await readJsonBody(req, limit);
  if (body.ok) return body;
  sendError(res, body.status, body.status === 413 ? 'too_large' : 'bad_request', body.message);
  return undefined;
}

function intParam(value: string | null, name: string): number | undefined {
  if (value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new RpcError('bad_request', `"${name}" must be an integer >= 0`);
  return n;
}

function channelParam(value: unknown): string {
  const why = channelNameError(value);
  if (why) throw new RpcError('bad_request', why);
  return value as string;
}

/**
 * The request listener of the server's own HTTP server: the API routes, then the application's
 * `onRequest`, else 404. A handler that throws is answered 500 and logged.
 */
export function requestListener(
  handle: (req: IncomingMessage, res: ServerResponse) => boolean,
  onRequest: ((req: IncomingMessage, res: ServerResponse) => void) | undefined,
  logger: Logger,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    try {
      if (handle(req, res)) return;
      if (onRequest) onRequest(req, res);
      else {
        res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: { code: 'not_found', message: 'not found' } }));
      }
    } catch (err) {
      logger.error({ err, url: redactUrl(req.url) }, 'request handler failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
  };
}

/**
 * Handles `req` if it is one of the server's routes; returns false (having written nothing)
 * otherwise, so an application can serve everything else.
 */
export function handleApiRequest(backend: ApiBackend, req: IncomingMessage, res: ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = `${req.method} ${url.pathname}`;
  const guard = (fn: () => Promise<void>): true => {
    fn().catch((err: unknown) => {
      if (!res.headersSent) fail(res, err, backend.logger);
      else res.destroy();
    });
    return true;
  };
  const needKey = (): boolean => {
    // An address past its failed attempts waits, right key or not: guessing gains nothing.
    const address = req.socket.remoteAddress ?? '';
    const wait = backend.apiKeyFailures.retryAfter(address);
    if (wait > 0) {
      res.setHeader('retry-after', String(Math.ceil(wait / 1000)));
      sendError(res, 429, 'rate_limited', 'too many failed API-key attempts from this address, try later');
      return false;
    }
    if (backend.apiKeyValid(req.headers.authorization)) return true;
    backend.apiKeyFailures.fail(address);
    sendError(res, 401, 'unauthorized', 'a valid API key is required: Authorization: Bearer <api key>');
    return false;
  };

  switch (route) {
    case 'GET /healthz':
      sendJson(res, 200, { status: 'ok' });
      return true;
    case 'GET /readyz': {
      const ready = backend.ready();
      sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable' });
      return true;
    }
    case 'GET /metrics':
      return guard(async () => {
        const text = await backend.registry.metrics();
        res.writeHead(200, { 'content-type': backend.registry.contentType });
        res.end(text);
      });
    case 'POST /api/publish':
      return guard(async () => {
        if (!needKey()) return;
        const body = await jsonBody(req, res, backend.maxPayload);
        if (!body?.ok) return;
        const value = body.value;
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw new RpcError('bad_request', 'body must be an object {channel, data, key?}');
        const { channel, data, key } = value as Record<string, unknown>;
        channelParam(channel);
        if (data === undefined) throw new RpcError('bad_request', 'body needs "data"');
        if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH))
          throw new RpcError('bad_request', `"key" must be a string of 1-${MAX_KEY_LENGTH} characters`);
        sendJson(res, 200, await backend.publish(channel as string, data, key as string | undefined));
      });
    case 'GET /api/history':
      return guard(async () => {
        if (!needKey()) return;
        const channel = channelParam(url.searchParams.get('channel'));
        const since = intParam(url.searchParams.get('since'), 'since');
        const limit = intParam(url.searchParams.get('limit'), 'limit');
        const h = await backend.history(channel, {
          ...(since !== undefined && { since }),
          ...(limit !== undefined && { limit }),
        });
        // A gap is never silent: `recovered: false` when what followed `since` is gone.
        const recovered = historyComplete(since ?? 0, h);
        sendJson(res, 200, { epoch: h.epoch, offset: h.offset, recovered, publications: h.publications });
      });
    case 'GET /api/presence':
      return guard(async () => {
        if (!needKey()) return;
        const channel = channelParam(url.searchParams.get('channel'));
        const limit = intParam(url.searchParams.get('limit'), 'limit');
        if (limit === 0) throw new RpcError('bad_request', '"limit" must be an integer >= 1');
        const cursor = url.searchParams.get('cursor') ?? undefined;
        if (cursor !== undefined && (cursor === '' || cursor.length > MAX_CURSOR_LENGTH))
          throw new RpcError(
            'bad_request',
            `"cursor" must be a string of 1-${MAX_CURSOR_LENGTH} characters: the "next" of a page`,
          );
        sendJson(res, 200, await backend.presence(channel, { limit, cursor }));
      });
    case 'POST /api/dev/login': {
      const login = backend.devLogin;
      if (!login) return false;
      return guard(async () => {
        const body = await jsonBody(req, res, 16_384);
        if (!body?.ok) return;
        sendJson(res, 200, await login(body.value));
      });
    }
    default:
      if (url.pathname.startsWith('/api/')) {
        backend.logger.debug({ method: req.method, url: redactUrl(req.url) }, 'unknown API route');
        sendError(res, 404, 'not_found', `no route ${req.method} ${url.pathname}`);
        return true;
      }
      return false;
  }
}
