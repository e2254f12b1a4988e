/**
 * One benchmark server per process: `servers.ts <ws|socketio|tether|tether-redis> [port] [prefix]`
 * prints `{"port": N}` on stdout once listening and runs until killed. Each does the same job:
 * a client that subscribes (joins the room) gets every publication of the room; an echo RPC
 * answers with its params. `ws-json` is raw ws whose echo parses the request and encodes a reply
 * as JSON, the least any JSON RPC must do (the RPC scenario's second floor). A `mem` line on stdin answers `{"rss","young","heap"}` after two full
 * GCs and a 250 ms pause (the process runs with `--expose-gc`); `young` is the young generation's pages.
 *
 * Tether: channels `bench:*` have presence off (fan-out, latency, RPC measure delivery alone);
 * `room:*` is the default namespace (presence on), used by the presence and reconnect scenarios.
 */
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { getHeapSpaceStatistics } from 'node:v8';
import { Server as SocketIoServer } from 'socket.io';
import { type WebSocket, WebSocketServer } from 'ws';

import { SECRET } from './shared.js';

const ready = (port: number) => process.stdout.write(`${JSON.stringify({ port })}\n`);

async function rawWs(port: number, json = false) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, clientTracking: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const room = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    ws.on('close', () => room.delete(ws));
    ws.on('message', (data: Buffer, isBinary) => {
      if (data.length === 3 && data.toString() === 'sub') {
        room.add(ws);
        ws.send('ok');
        return;
      }
      if (data[2] === 114 /* {"rpc" */) {
        if (!json) return ws.send(data, { binary: false });
        // `ws-json`: the echo as any JSON RPC must do it, parse the request and encode a reply.
        const request = JSON.parse(data.toString()) as { rpc: number };
        return ws.send(JSON.stringify({ reply: request.rpc, ok: true, result: request }));
      }
      // Forward the publication as is to every member: the floor any server can reach.
      for (const peer of room) if (peer !== ws) peer.send(data, { binary: isBinary });
    });
  });
  ready((wss.address() as AddressInfo).port);
}

async function socketIo(port: number) {
  const http = createHttpServer();
  const io = new SocketIoServer(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  io.on('connection', (socket) => {
    socket.on('sub', (_data, ack) => {
      socket.join('bench');
      ack();
    });
    socket.on('pub', (data) => socket.to('bench').emit('msg', data));
    socket.on('rpc', (data, ack) => ack(data));
  });
  await new Promise<void>((r) => http.listen(port, '127.0.0.1', r));
  ready((http.address() as AddressInfo).port);
}

async function tether(port: number, redisPrefix?: string) {
  const { createServer } = await import('@tether/server');
  const broker = redisPrefix
    ? (await import('@tether/redis')).redisBroker({
        url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        prefix: redisPrefix,
      })
    : undefined;
  const server = createServer({
    host: '127.0.0.1',
    port,
    auth: { jwtSecret: SECRET },
    ...(broker && { broker }),
    namespaces: { bench: { publish: 'clients', presence: false } },
    limits: { messagesPerSecond: 1_000_000, maxBuffered: 64 << 20, maxConnections: 50_000 },
    logLevel: 'silent',
  });
  server.rpc('echo', (params) => params);
  const address = await server.listen();
  ready(address.port);
}

const [kind, portArg, prefix] = process.argv.slice(2);
const port = Number(portArg ?? 0);
const starters: Record<string, () => Promise<void>> = {
  ws: () => rawWs(port),
  'ws-json': () => rawWs(port, true),
  socketio: () => socketIo(port),
  tether: () => tether(port),
  // The same server: the client picks MessagePack by its subprotocol.
  'tether-msgpack': () => tether(port),
  'tether-redis': () => tether(port, prefix ?? 'tether-bench'),
};
const start = starters[kind ?? ''];
if (!start) throw new TypeError(`usage: servers.ts <${Object.keys(starters).join('|')}> [port] [prefix], got ${kind}`);
await start();

// Under `--cpu-prof` (bench/run.ts --prof) V8 writes the profile on a normal exit.
process.on('SIGTERM', () => process.exit(0));

const gc = (globalThis as { gc?: () => void }).gc;
/** Pages V8 holds for its young generation: sized by recent allocation rate, empty after a full GC. */
const young = (): number =>
  getHeapSpaceStatistics()
    .filter((s) => s.space_name === 'new_space' || s.space_name === 'new_large_object_space')
    .reduce((sum, s) => sum + s.physical_space_size, 0);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'mem') return;
  gc?.();
  gc?.();
  // V8 returns the pages a full GC freed to the OS on a background thread: let it finish, so
  // RSS is not read halfway through (the same wait for every kind).
  setTimeout(() => {
    const m = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({ rss: m.rss, young: young(), heap: m.heapUsed, external: m.external })}\n`);
  }, 250);
});
