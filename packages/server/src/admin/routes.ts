/**
 * The admin HTTP routes: the page under `/admin` (login form until there is a session), and the
 * API under `/api/admin/` for the page and for scripts. Every API route needs an operator:
 * `Authorization: Bearer <api key | admin token>`, or the page's session cookie — with the cookie,
 * a POST must be `application/json`, which a cross-site form cannot send.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Duration, toMs } from '@tether/protocol';
import { HTTP_STATUS } from '../errors.js';
import { readJsonBody, sendError, sendJson } from '../http-util.js';
import type { Logger } from '../logger.js';
import { RpcError } from '../rpc-error.js';
import type { Admin } from './admin.js';
import { type Credentials, type Operator, sessionCookie } from './credentials.js';
import { loginPage } from './page.js';
import { ADMIN_NAMESPACE, type AdminChannelDetail, type AdminSession } from './types.js';

export interface AdminRoutesDeps {
  admin: Admin;
  credentials: Credentials;
  logger: Logger;
  wsPath: string;
  maxPayload: number;
  /** Serves a file of the built page (`req.url` relative to `/admin`); absent when the page is off. */
  page: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  history(channel: string): Promise<{ epoch: string; offset: number; publications: unknown[] }>;
  publish(channel: string, data: unknown): Promise<unknown>;
}

const MAX_LOGIN_BODY = 16_384;

function html(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    ...headers,
  });
  res.end(body);
}

function readText(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

const str = (v: unknown, name: string): string | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '' || v.length > 256)
    throw new RpcError('bad_request', `"${name}" must be a string of 1-256 characters`);
  return v;
};

/** Returns the router: true when it answered `req`. */
export function adminRoutes(d: AdminRoutesDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const fail = (res: ServerResponse, err: unknown): void => {
    if (res.headersSent) res.destroy();
    else if (err instanceof RpcError) sendError(res, HTTP_STATUS[err.code], err.code, err.message);
    else {
      d.logger.error({ err }, 'admin API failed');
      sendError(res, 500, 'internal', 'internal error');
    }
  };

  const body = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const b = await readJsonBody(req, d.maxPayload);
    if (!b.ok) throw new RpcError(b.status === 413 ? 'too_large' : 'bad_request', b.message);
    if (typeof b.value !== 'object' || b.value === null || Array.isArray(b.value))
      throw new RpcError('bad_request', 'body must be a JSON object');
    return b.value as Record<string, unknown>;
  };

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL, op: Operator): Promise<void> => {
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /api/admin/session': {
        const session: AdminSession = {
          user: op.user,
          node: d.admin.node,
          wsPath: d.wsPath,
          interval: d.admin.interval,
        };
        return sendJson(res, 200, session);
      }
      case 'GET /api/admin/nodes':
        return sendJson(res, 200, { nodes: await d.admin.nodes() });
      case 'GET /api/admin/connections': {
        const user = url.searchParams.get('user') ?? undefined;
        return sendJson(res, 200, { node: d.admin.node.id, connections: d.admin.connections(user) });
      }
      case 'GET /api/admin/channels': {
        const { total, top } = d.admin.channelList();
        const channels: AdminChannelDetail[] = await Promise.all(
          top.map(async (c) => {
            const h = await d.history(c.channel);
            return { ...c, historySize: h.publications.length, lastOffset: h.offset, epoch: h.epoch };
          }),
        );
        return sendJson(res, 200, { node: d.admin.node.id, total, channels });
      }
      case 'POST /api/admin/disconnect': {
        const b = await body(req);
        const connectionId = str(b.connectionId, 'connectionId');
        const user = str(b.user, 'user');
        if (connectionId === undefined && user === undefined)
          throw new RpcError('bad_request', 'give "connectionId" or "user"');
        let refuseFor: number | undefined;
        if (b.refuseFor !== undefined) {
          if (user === undefined) throw new RpcError('bad_request', '"refuseFor" needs "user"');
          try {
            refuseFor = toMs(b.refuseFor as Duration, 'refuseFor');
          } catch (err) {
            throw new RpcError('bad_request', err instanceof Error ? err.message : 'bad "refuseFor"');
          }
        }
        const disconnected = await d.admin.disconnect({
          ...(connectionId !== undefined && { connectionId }),
          ...(user !== undefined && { user }),
          ...(refuseFor !== undefined && { refuseFor }),
        });
        d.logger.info({ operator: op.user, connectionId, user, refuseFor }, 'admin: disconnect');
        return sendJson(res, 200, { disconnected });
      }
      case 'POST /api/admin/publish': {
        const b = await body(req);
        const channel = str(b.channel, 'channel');
        if (channel === undefined || b.data === undefined)
          throw new RpcError('bad_request', 'body must be {channel, data}');
        // The admin namespace carries the nodes' own snapshots and operator actions.
        if (channel.startsWith(`${ADMIN_NAMESPACE}:`))
          throw new RpcError('forbidden', `"${channel}" is the dashboard's own channel`);
        return sendJson(res, 200, await d.publish(channel, b.data));
      }
      default:
        return sendError(res, 404, 'not_found', `no route ${route}`);
    }
  };

  const login = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const text = await readText(req, MAX_LOGIN_BODY);
    const type = req.headers['content-type'] ?? '';
    let secret: string | null | undefined;
    if (text !== undefined) {
      if (type.startsWith('application/json')) {
        try {
          secret = (JSON.parse(text) as { key?: string }).key;
        } catch {
          secret = undefined;
        }
      } else secret = new URLSearchParams(text).get('key');
    }
    const cookie = typeof secret === 'string' && secret !== '' ? await d.credentials.login(secret.trim()) : undefined;
    if (!cookie) return html(res, 401, loginPage('That is neither the API key nor an admin token.'));
    d.logger.info('admin: operator logged in');
    res.writeHead(303, { location: '/admin/', 'set-cookie': sessionCookie(cookie), 'cache-control': 'no-store' });
    res.end();
  };

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const isApi = path.startsWith('/api/admin/');
    const isPage = path === '/admin' || path.startsWith('/admin/');
    if (!isApi && !(isPage && d.page)) return false;
    const run = async (): Promise<void> => {
      if (isPage && path === '/admin/login' && req.method === 'POST') return login(req, res);
      if (isPage && path === '/admin/logout' && req.method === 'POST') {
        res.writeHead(303, { location: '/admin/', 'set-cookie': sessionCookie(undefined) });
        res.end();
        return;
      }
      const bearer = await d.credentials.bearer(req.headers.authorization);
      const op = bearer ?? (await d.credentials.cookie(req.headers.cookie));
      if (isApi) {
        if (!op) return sendError(res, 401, 'unauthorized', 'an operator is required: Bearer <api key | admin token>');
        const json = (req.headers['content-type'] ?? '').startsWith('application/json');
        if (!bearer && req.method !== 'GET' && !json)
          return sendError(res, 403, 'forbidden', 'with the session cookie, send application/json');
        return api(req, res, url, op);
      }
      if (!op) {
        if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 401, 'unauthorized', 'log in first');
        return html(res, 401, loginPage());
      }
      if (path === '/admin') {
        res.writeHead(308, { location: '/admin/' });
        res.end();
        return;
      }
      req.url = path.slice('/admin'.length) + url.search;
      // The console's buttons act: no other site may frame it.
      res.setHeader('x-frame-options', 'DENY');
      res.setHeader('content-security-policy', "frame-ancestors 'none'");
      (d.page as NonNullable<typeof d.page>)(req, res);
    };
    run().catch((err: unknown) => fail(res, err));
    return true;
  };
}
