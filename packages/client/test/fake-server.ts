/**
 * A small Tether-speaking server on real `ws` (127.0.0.1, port 0) for the client's integration
 * tests, with hooks to misbehave: stay silent, drop everyone, close with any code, restart on the
 * same port with or without its history.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MessageFrame } from '@tether/protocol';
import { type WebSocket, WebSocketServer } from 'ws';
import type { ClientEvents, TetherClient } from '../src/client.js';
import type { Emitter } from '../src/emitter.js';
import type { SubscriptionEvents } from '../src/subscription.js';

export interface FakeConn {
  ws: WebSocket;
  url: string;
  /** Frames received from this client, parsed (raw string when not JSON). */
  frames: unknown[];
  subs: Set<string>;
  send(frame: unknown): void;
}

export interface FakeServerOptions {
  /** `plain`: select no subprotocol and never send `welcome`. @default 'tether' */
  mode?: 'tether' | 'plain';
  /** Announced in `welcome`. @default { interval: 30000, timeout: 10000 } */
  heartbeat?: { interval: number; timeout: number };
  /** Send a `ping` to every connection this often (ms). @default off */
  pingEvery?: number;
  /** Called for each new connection (after `welcome`). */
  onConnection?: (conn: FakeConn, req: IncomingMessage) => void;
  /** Called for every frame; return true when handled, to skip the default behaviour. */
  onFrame?: (frame: Record<string, unknown>, conn: FakeConn) => boolean | undefined;
  /** RPC methods. Built in: `echo` returns its params. */
  rpc?: Record<string, (params: unknown) => unknown>;
}

interface Channel {
  epoch: string;
  log: MessageFrame[];
  keys: Map<string, number>;
}

export interface FakeServer {
  readonly port: number;
  readonly url: string;
  readonly connections: Set<FakeConn>;
  /** Connections accepted since creation. */
  readonly accepted: number;
  /** When true the server sends nothing at all: no welcome, no pings, no replies (half-open). */
  silent: boolean;
  channels: Map<string, Channel>;
  /** Publishes from "server code": stored and fanned out to subscribers. */
  publish(channel: string, data: unknown): MessageFrame;
  /** Sends a frame (object → JSON, string as is) to every connection. */
  broadcast(frame: unknown): void;
  closeAll(code: number, reason?: string): void;
  /** Kills every connection without a close frame (the client sees 1006). */
  terminateAll(): void;
  /** Stops listening and kills every connection. */
  stop(): Promise<void>;
  /** Listens again on the same port. `resetHistory` simulates a memory broker restart (new epochs). */
  start(opts?: { resetHistory?: boolean }): Promise<void>;
  restart(opts?: { resetHistory?: boolean }): Promise<void>;
  /** Resolves with the next connection (or the `n`-th accepted one). */
  nextConnection(): Promise<FakeConn>;
  close(): Promise<void>;
}

let epochSeq = 0;

export async function createFakeServer(opts: FakeServerOptions = {}): Promise<FakeServer> {
  const mode = opts.mode ?? 'tether';
  const heartbeat = opts.heartbeat ?? { interval: 30_000, timeout: 10_000 };
  const connections = new Set<FakeConn>();
  const channels = new Map<string, Channel>();
  const waiting: ((c: FakeConn) => void)[] = [];
  let wss: WebSocketServer | undefined;
  let port = 0;
  let accepted = 0;
  let pinger: ReturnType<typeof setInterval> | undefined;

  const channel = (name: string): Channel => {
    let ch = channels.get(name);
    if (!ch) {
      ch = { epoch: `e${++epochSeq}`, log: [], keys: new Map() };
      channels.set(name, ch);
    }
    return ch;
  };

  const server: FakeServer = {
    get port() {
      return port;
    },
    get url() {
      return `ws://127.0.0.1:${port}/ws`;
    },
    connections,
    get accepted() {
      return accepted;
    },
    silent: false,
    channels,
    publish(name, data) {
      const ch = channel(name);
      const msg: MessageFrame = {
        type: 'message',
        channel: name,
        offset: ch.log.length + 1,
        epoch: ch.epoch,
        data,
        ts: Date.now(),
      };
      ch.log.push(msg);
      for (const c of connections) if (c.subs.has(name)) c.send(msg);
      return msg;
    },
    broadcast(frame) {
      for (const c of connections) c.send(frame);
    },
    closeAll(code, reason = '') {
      for (const c of connections) c.ws.close(code, reason);
    },
    terminateAll() {
      for (const c of connections) c.ws.terminate();
    },
    async stop() {
      clearInterval(pinger);
      const w = wss;
      wss = undefined;
      if (!w) return;
      for (const c of connections) c.ws.terminate();
      connections.clear();
      await new Promise<void>((resolve) => w.close(() => resolve()));
    },
    async start(o = {}) {
      if (o.resetHistory) channels.clear();
      const w = new WebSocketServer({
        host: '127.0.0.1',
        port,
        // Plain mode is a default `ws` server: it knows nothing of Tether yet echoes the first
        // subprotocol offered, so the client must detect it from what it does (not) send.
        handleProtocols: (protocols) => [...protocols][0] ?? false,
      });
      wss = w;
      await new Promise<void>((resolve, reject) => {
        w.once('listening', resolve);
        w.once('error', reject);
      });
      port = (w.address() as AddressInfo).port;
      w.on('connection', (ws, req) => onConnection(ws, req));
      if (opts.pingEvery)
        pinger = setInterval(() => {
          if (!server.silent) server.broadcast({ type: 'ping' });
        }, opts.pingEvery);
    },
    async restart(o) {
      await server.stop();
      await server.start(o);
    },
    nextConnection() {
      return new Promise((resolve) => waiting.push(resolve));
    },
    async close() {
      await server.stop();
    },
  };

  function onConnection(ws: WebSocket, req: IncomingMessage): void {
    accepted++;
    const conn: FakeConn = {
      ws,
      url: req.url ?? '',
      frames: [],
      subs: new Set(),
      send(frame) {
        if (server.silent || ws.readyState !== ws.OPEN) return;
        ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
      },
    };
    connections.add(conn);
    ws.on('close', () => connections.delete(conn));
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      let frame: unknown = text;
      try {
        frame = JSON.parse(text);
      } catch {}
      conn.frames.push(frame);
      if (typeof frame === 'object' && frame !== null) handle(frame as Record<string, unknown>, conn);
    });
    if (mode === 'tether')
      conn.send({
        type: 'welcome',
        protocol: 1,
        connectionId: `c${accepted}`,
        user: 'u1',
        heartbeat,
        limits: { maxPayload: 65536, messagesPerSecond: 50, maxSubscriptions: 100 },
      });
    opts.onConnection?.(conn, req);
    waiting.shift()?.(conn);
  }

  function handle(f: Record<string, unknown>, conn: FakeConn): void {
    if (opts.onFrame?.(f, conn)) return;
    if (mode === 'plain') {
      if (f.type === 'heartbeat') conn.send(f);
      return;
    }
    const id = f.id as number;
    const reply = (result: unknown) => conn.send({ type: 'reply', id, ok: true, result });
    const fail = (code: string, message: string) =>
      conn.send({ type: 'reply', id, ok: false, error: { code, message } });
    switch (f.type) {
      case 'ping':
        conn.send(id ? { type: 'pong', id } : { type: 'pong' });
        return;
      case 'heartbeat':
        conn.send(f);
        return;
      case 'subscribe': {
        const name = f.channel as string;
        const ch = channel(name);
        const since = f.since as { offset: number; epoch: string } | undefined;
        const offset = ch.log.length;
        const recovered = !!since && since.epoch === ch.epoch && since.offset <= offset;
        conn.subs.add(name);
        reply({
          offset,
          epoch: ch.epoch,
          recovered,
          publications: recovered ? ch.log.filter((m) => m.offset > (since as { offset: number }).offset) : [],
        });
        return;
      }
      case 'unsubscribe':
        conn.subs.delete(f.channel as string);
        reply({});
        return;
      case 'publish': {
        const ch = channel(f.channel as string);
        const key = f.key as string | undefined;
        const seen = key === undefined ? undefined : ch.keys.get(key);
        if (seen !== undefined) {
          reply({ offset: seen, epoch: ch.epoch });
          return;
        }
        const msg = server.publish(f.channel as string, f.data);
        if (key !== undefined) ch.keys.set(key, msg.offset);
        reply({ offset: msg.offset, epoch: msg.epoch });
        return;
      }
      case 'presence':
        reply({ clients: [...connections].filter((c) => c.subs.has(f.channel as string)).map(() => ({ user: 'u1' })) });
        return;
      case 'rpc': {
        const method = f.method as string;
        const fn = opts.rpc?.[method] ?? (method === 'echo' ? (p: unknown) => p : undefined);
        if (!fn) {
          fail('not_found', `no method ${method}`);
          return;
        }
        try {
          reply(fn(f.params));
        } catch (err) {
          fail('internal', String(err));
        }
        return;
      }
      default:
        if (id) fail('bad_request', 'unknown frame');
    }
  }

  await server.start();
  return server;
}

type Once = { once(event: string, fn: (...args: never[]) => void): () => void };

/** Resolves with the arguments of the next `event`, or rejects after `ms`. */
export function waitFor<K extends keyof ClientEvents>(
  target: TetherClient,
  event: K,
  ms?: number,
): Promise<ClientEvents[K]>;
export function waitFor<K extends keyof SubscriptionEvents>(
  target: Emitter<SubscriptionEvents>,
  event: K,
  ms?: number,
): Promise<SubscriptionEvents[K]>;
export function waitFor(target: unknown, event: string, ms = 5000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    const off = (target as Once).once(event, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}
