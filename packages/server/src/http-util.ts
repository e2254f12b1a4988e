/**
 * Small HTTP helpers for the API router and for refusing upgrades on a raw socket.
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '@tether/protocol';

/** Starts `server` listening; rejects when it cannot (port in use). */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

/**
 * Refuses an upgrade with a plain HTTP response and closes the socket: no WebSocket is opened.
 * `message` must not contain anything from the request (tokens).
 */
export function rejectUpgrade(socket: Duplex, status: number, code: ErrorCode, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { code, message } });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  if (status === 401) head.push('WWW-Authenticate: Bearer');
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  // Don't wait for the client to close its side; a slow or hostile client would hold the socket.
  socket.once('finish', () => socket.destroy());
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export type BodyResult = { ok: true; value: unknown } | { ok: false; status: 400 | 413; message: string };

/** Reads a JSON request body of at most `limit` bytes. Never throws. */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve({ ok: false, status: 413, message: `body larger than ${limit} bytes` });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyResult): void => {
      if (done) return;
      done = true;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        finish({ ok: false, status: 413, message: `body larger than ${limit} bytes` });
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => finish({ ok: false, status: 400, message: 'request body could not be read' }));
    req.on('end', () => {
      let text: string;
      try {
        // Strict: invalid UTF-8 is refused, never stored as U+FFFD.
        text = utf8.decode(Buffer.concat(chunks));
      } catch {
        finish({ ok: false, status: 400, message: 'body must be valid UTF-8' });
        return;
      }
      try {
        finish({ ok: true, value: JSON.parse(text) });
      } catch {
        finish({ ok: false, status: 400, message: 'body must be JSON' });
      }
    });
  });
}
