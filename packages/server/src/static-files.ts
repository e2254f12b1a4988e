/**
 * A small static file handler for `onRequest`: serves a built web app (the chat app) from a
 * folder, with single-page-app fallback to `index.html`.
 * @module
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export interface StaticOptions {
  /** Answer unknown paths without a file extension with `index.html` (client-side routing). @default true */
  spa?: boolean;
}

/**
 * Returns a request handler serving files under `root`. Paths are confined to `root` (no `..`
 * escape); `GET` and `HEAD` only.
 * @example
 * createServer({ ..., onRequest: serveStatic('apps/chat/dist') });
 */
export function serveStatic(
  root: string,
  options: StaticOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const base = resolve(root);
  const spa = options.spa ?? true;
  const send = (res: ServerResponse, status: number, text: string): void => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(text);
  };

  const file = async (path: string): Promise<{ path: string; size: number } | undefined> => {
    try {
      const s = await stat(path);
      if (s.isFile()) return { path, size: s.size };
      if (s.isDirectory()) return file(join(path, 'index.html'));
    } catch {
      // Missing: the caller decides between the SPA fallback and 404.
    }
    return undefined;
  };

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed');
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return send(res, 400, 'bad path');
    }
    const target = resolve(base, `.${pathname}`);
    if (target !== base && !target.startsWith(base + sep)) return send(res, 404, 'not found');
    void (async () => {
      let found = await file(target);
      if (!found && spa && extname(pathname) === '') found = await file(join(base, 'index.html'));
      if (!found) return send(res, 404, 'not found');
      const type = TYPES[extname(found.path).toLowerCase()] ?? 'application/octet-stream';
      // Hashed build assets may be cached for long; the HTML that names them must not be.
      const cache = type.startsWith('text/html') ? 'no-cache' : 'public, max-age=3600';
      res.writeHead(200, { 'content-type': type, 'content-length': found.size, 'cache-control': cache });
      if (req.method === 'HEAD') return res.end();
      const stream = createReadStream(found.path);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    })().catch(() => {
      if (!res.headersSent) send(res, 500, 'internal error');
      else res.destroy();
    });
  };
}
