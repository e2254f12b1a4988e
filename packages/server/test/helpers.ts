/**
 * Test helpers: a loopback server with test-sized timings, a raw `ws` client with a `next()`
 * frame cursor (bounded waits, no sleeps), and upgrade probes.
 */
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { type Codec, jsonCodec } from '@tether/protocol';
import { msgpackCodec } from '@tether/protocol/msgpack';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createServer, type ServerOptions, signToken, type TetherServer } from '../src/index.js';

export const SECRET = 'test-secret-that-is-long-enough-0123456789';
export const API_KEY = 'test-api-key';

export type Frame = Record<string, unknown> & { type: string };

export interface TestServer {
  tether: TetherServer;
  port: number;
  /** `ws://127.0.0.1:<port>/ws` */
  url: string;
  /** `http://127.0.0.1:<port>` */
  http: string;
}

const open: TetherServer[] = [];
const clients: RawClient[] = [];
/** Every log line the helpers' servers wrote in this test, and every token `token()` signed. */
const logLines: string[] = [];
const issued = new Set<string>();
const MAX_LOG_LINES = 10_000;

/** A trace-level logger that keeps its lines for the secret scan in `cleanup` (printing nothing). */
function capturingLogger() {
  const sink = new Writable({
    write(chunk, _enc, done) {
      if (logLines.length < MAX_LOG_LINES) logLines.push(String(chunk));
      done();
    },
  });
  return pino({ level: 'trace' }, sink);
}

/**
 * Starts a server on 127.0.0.1, a free port, the test secret and API key. Its logs are captured
 * at trace level (unless the test brings its own `logger` or `logLevel`) and scanned for secrets
 * by `cleanup`.
 */
export async function startServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const own = options.logger !== undefined || options.logLevel !== undefined;
  const tether = createServer({
    host: '127.0.0.1',
    port: 0,
    ...(own ? {} : { logger: capturingLogger() }),
    auth: { jwtSecret: SECRET },
    apiKey: API_KEY,
    ...options,
  });
  open.push(tether);
  const { port } = await tether.listen();
  return { tether, port, url: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${port}` };
}

/**
 * Closes every client and server the helpers opened: call from `afterEach`. Then fails the test
 * if any captured log line holds the API key, a token `token()` signed or its signature.
 */
export async function cleanup(): Promise<void> {
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(open.splice(0).map((t) => t.close({ deadline: 1_000 })));
  const lines = logLines.splice(0);
  const secrets = [API_KEY, ...[...issued].flatMap((t) => [t, t.split('.')[2] as string])];
  issued.clear();
  for (const line of lines)
    for (const secret of secrets)
      if (line.includes(secret)) throw new Error(`a log line holds a secret: ${line.replace(secret, '<secret>')}`);
}

export async function token(
  user = 'alice',
  extra: { info?: unknown; channels?: string[]; expiresIn?: number } = {},
): Promise<string> {
  const t = await signToken(SECRET, { user, ...extra });
  issued.add(t);
  return t;
}

/** How many log lines the helpers' servers wrote in this test so far (the scan is not vacuous). */
export const capturedLogLines = (): number => logLines.length;

export interface ConnectOptions {
  token?: string;
  /** Subprotocols to offer. @default ['tether.v1'] (msgpack when codec is msgpack) */
  protocols?: string[];
  headers?: Record<string, string>;
  codec?: 'json' | 'msgpack';
  /** Answer server pings automatically (and keep them out of the frame queue). @default true */
  answerPings?: boolean;
}

/** Resolves with `t` or rejects after `ms` with a message naming what was awaited. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Polls a condition until it is truthy or the timeout passes (one copy, from the broker's test kit). */
export { waitFor } from '@tether/broker/testing';

/** A protocol-level client on a raw `ws` socket: no SDK logic, frames in and out as objects. */
export class RawClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];
  private nextId = 1;
  private closeInfo: { code: number; reason: string } | undefined;

  private constructor(
    readonly ws: WebSocket,
    readonly codec: Codec,
    answerPings: boolean,
  ) {
    clients.push(this);
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake();
      });
    });
    ws.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary) => {
      const frame = (isBinary ? codec.decode(new Uint8Array(data)) : JSON.parse(data.toString())) as Frame;
      if (answerPings && frame.type === 'ping' && frame.id === undefined) {
        this.send({ type: 'pong' });
        return;
      }
      this.frames.push(frame);
      this.wake();
    });
  }

  /** Opens a socket; resolves once open (the `welcome` is then the first queued frame). */
  static connect(url: string, options: ConnectOptions = {}): Promise<RawClient> {
    const codec = options.codec === 'msgpack' ? msgpackCodec : jsonCodec;
    const protocols = options.protocols ?? [codec.name];
    const headers = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const ws = new WebSocket(url, protocols, { headers });
    const client = new RawClient(ws, codec, options.answerPings ?? true);
    return within(
      new Promise<RawClient>((resolve, reject) => {
        ws.once('open', () => resolve(client));
        ws.once('unexpected-response', (_req, res: IncomingMessage) => {
          reject(new Error(`upgrade refused with HTTP ${res.statusCode}`));
          ws.terminate();
        });
        ws.once('error', reject);
      }),
      3_000,
      'the socket to open',
    );
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next queued frame (of `type`, when given: frames of other types stay queued). */
  async next(type?: string, ms = 2_000): Promise<Frame> {
    const end = Date.now() + ms;
    for (;;) {
      const at = this.frames.findIndex((f) => type === undefined || f.type === type);
      if (at >= 0) return this.frames.splice(at, 1)[0] as Frame;
      if (this.closeInfo)
        throw new Error(`socket closed (${this.closeInfo.code}) while waiting for ${type ?? 'a frame'}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${type ?? 'a frame'}`);
      await within(new Promise<void>((r) => this.waiters.push(r)), left, type ?? 'a frame').catch(() => {});
    }
  }

  /** Waits for the reply to command `id`. */
  async reply(id: number, ms = 2_000): Promise<Frame> {
    const end = Date.now() + ms;
    for (;;) {
      const at = this.frames.findIndex((f) => f.type === 'reply' && f.id === id);
      if (at >= 0) return this.frames.splice(at, 1)[0] as Frame;
      if (this.closeInfo) throw new Error(`socket closed (${this.closeInfo.code}) while waiting for reply ${id}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for reply ${id}`);
      await within(new Promise<void>((r) => this.waiters.push(r)), left, `reply ${id}`).catch(() => {});
    }
  }

  send(frame: object): void {
    this.ws.send(this.codec.encode(frame), { binary: this.codec.binary });
  }

  /** Sends a command with a fresh `id` and resolves with its reply frame. */
  async request(frame: Record<string, unknown> & { type: string }, ms?: number): Promise<Frame> {
    const id = this.nextId++;
    this.send({ ...frame, id });
    return this.reply(id, ms);
  }

  /** Sends a command and resolves with `result`; rejects when the reply is an error. */
  async ok(frame: Record<string, unknown> & { type: string }): Promise<Record<string, unknown>> {
    const r = await this.request(frame);
    if (r.ok !== true) throw new Error(`${frame.type} failed: ${JSON.stringify(r.error)}`);
    return r.result as Record<string, unknown>;
  }

  close(code = 1000): void {
    this.ws.close(code);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** Tries an upgrade and resolves with the HTTP status it was refused with (fails if it opened). */
export function refusedStatus(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} });
  return within(
    new Promise((resolve, reject) => {
      ws.on('open', () => {
        ws.terminate();
        reject(new Error('the upgrade was accepted'));
      });
      ws.on('unexpected-response', (_req, res: IncomingMessage) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('error', (err) => {
        if (!/Unexpected server response/.test(err.message)) reject(err);
      });
    }),
    3_000,
    'the upgrade response',
  );
}

/** A welcomed, ping-answering client for user `user`. */
export async function connectAs(server: TestServer, user = 'alice', options: ConnectOptions = {}): Promise<RawClient> {
  const c = await RawClient.connect(server.url, { token: await token(user), ...options });
  const welcome = await c.next('welcome');
  if (welcome.user !== user) throw new Error(`welcomed as ${String(welcome.user)}`);
  return c;
}
