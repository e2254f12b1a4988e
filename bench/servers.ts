/**
 * One benchmark server per process: `tsx bench/servers.ts <ws|socketio|tether>` prints
 * `{"port": N}` on stdout once listening and runs until killed. Each one does the same job:
 * whatever a client publishes reaches every subscriber of the one room.
 */
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketIoServer } from 'socket.io';
import { WebSocketServer } from 'ws';

import { SECRET } from './shared.js';

const ready = (port: number) => process.stdout.write(`${JSON.stringify({ port })}\n`);

async function rawWs() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      if (text.startsWith('{"rpc"')) return ws.send(text);
      // Forward the publication as is to every other client: the floor any server can reach.
      for (const peer of wss.clients) if (peer !== ws) peer.send(data, { binary: isBinary });
    });
  });
  ready((wss.address() as AddressInfo).port);
}

async function socketIo() {
  const http = createHttpServer();
  const io = new SocketIoServer(http, { transports: ['websocket'], perMessageDeflate: false });
  io.on('connection', (socket) => {
    socket.join('bench');
    socket.on('pub', (data) => socket.to('bench').emit('msg', data));
    socket.on('rpc', (data, ack) => ack(data));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  ready((http.address() as AddressInfo).port);
}

async function tether() {
  const { createServer } = await import('@tether/server');
  const server = createServer({
    host: '127.0.0.1',
    port: 0,
    auth: { jwtSecret: SECRET },
    namespaces: { bench: { publish: 'clients', presence: false } },
    limits: { messagesPerSecond: 1_000_000, maxBuffered: 64 << 20 },
    logLevel: 'silent',
  });
  server.rpc('echo', async (params) => params);
  const address = await server.listen();
  ready(address.port);
}

const kind = process.argv[2];
const start = { ws: rawWs, socketio: socketIo, tether }[kind as 'ws'];
if (!start) throw new TypeError(`usage: servers.ts <ws|socketio|tether>, got ${kind}`);
await start();
