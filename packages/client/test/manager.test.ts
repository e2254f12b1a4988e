/**
 * The seed's usage pattern, unchanged, on the real client: against a plain (non-Tether) server
 * like the one the original class was written for, and against a Tether server.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type TetherClient, WebSocketManager } from '../src/index.js';
import { createFakeServer, type FakeServer } from './fake-server.js';
import { trackTimers } from './track-timers.js';

let s: FakeServer | undefined;
const cleanup: (() => void)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0)) f();
  await s?.close();
  s = undefined;
});

describe('WebSocketManager (seed usage)', () => {
  it('four callbacks, connect, send an object, JSON and non-JSON in, lose the server, get it back, disconnect, no timers left', async () => {
    s = await createFakeServer({
      mode: 'plain',
      onFrame: (f, conn) => {
        if (f.type === 'chat') {
          conn.send({ event_id: 'e1', data: { echo: f.text } });
          conn.send('plain text, not JSON');
        }
        return true;
      },
    });
    const server = s;
    const timers = trackTimers();
    cleanup.push(timers.restore);
    const events: string[] = [];
    const messages: unknown[] = [];
    const errors: unknown[] = [];
    const manager = new WebSocketManager({
      url: server.url,
      WebSocket,
      reconnect: { initialDelay: 10, maxDelay: 50 },
      welcomeTimeout: 100,
      onConnect: () => events.push('connect'),
      onDisconnect: () => events.push('disconnect'),
      onMessage: (m) => messages.push(m),
      onError: (e) => errors.push(e),
    });
    await manager.connect();
    expect(manager.isConnected).toBe(true);
    expect(manager.client.plain).toBe(true);
    manager.send({ type: 'chat', text: 'hello' });
    await vi.waitFor(() => expect(messages).toHaveLength(2));
    expect(messages).toEqual([{ event_id: 'e1', data: { echo: 'hello' } }, 'plain text, not JSON']);

    await server.stop();
    await vi.waitFor(() => expect(manager.isConnected).toBe(false));
    manager.send({ type: 'chat', text: 'while away' }); // queued, not thrown
    await server.start();
    await vi.waitFor(() => expect(manager.isConnected).toBe(true), { timeout: 3000 });
    await vi.waitFor(() => expect(messages).toHaveLength(4)); // the queued send went out after reconnect
    expect(events.slice(0, 3)).toEqual(['connect', 'disconnect', 'connect']);

    manager.disconnect();
    expect(manager.isConnected).toBe(false);
    expect(events.at(-1)).toBe('disconnect');
    await vi.waitFor(() => expect(server.connections.size).toBe(0));
    await vi.waitFor(() => expect(timers.live()).toBe(0));
    timers.restore();
  });

  it('on a Tether server: onMessage gets every frame except welcome/ping/pong/reply', async () => {
    s = await createFakeServer({ pingEvery: 20 });
    const server = s;
    const messages: unknown[] = [];
    const manager = new WebSocketManager({ url: server.url, WebSocket, onMessage: (m) => messages.push(m) });
    cleanup.push(() => manager.disconnect());
    await manager.connect();
    expect(manager.client.plain).toBe(false);
    const sub = manager.client.subscribe('room:m');
    await sub.ready;
    server.publish('room:m', 'pub');
    server.broadcast({ app: 'custom' });
    server.broadcast('raw');
    await vi.waitFor(() => expect(messages).toHaveLength(3));
    expect(messages[0]).toMatchObject({ type: 'message', channel: 'room:m', data: 'pub' });
    expect(messages.slice(1)).toEqual([{ app: 'custom' }, 'raw']);
  });

  it('plain mode: a ws server that echoes the subprotocol but sends no welcome is detected from its first frame', async () => {
    s = await createFakeServer({ mode: 'tether', onConnection: (conn) => conn.ws.send(JSON.stringify({ hello: 1 })) });
    const server = s;
    // Make the fake server act as a plain one that still selected our subprotocol: no welcome.
    server.silent = true;
    const c: TetherClient = createClient({ url: server.url, WebSocket });
    cleanup.push(() => c.close());
    const first = new Promise((resolve) => c.once('message', resolve));
    await c.connect();
    expect(c.plain).toBe(true);
    expect(await first).toEqual({ hello: 1 });
  });

  it('plain mode heartbeat: sends heartbeat frames and treats interval + timeout of silence as dead', async () => {
    s = await createFakeServer({ mode: 'plain' });
    const server = s;
    const c: TetherClient = createClient({
      url: server.url,
      WebSocket,
      reconnect: { initialDelay: 10 },
      welcomeTimeout: 100,
      heartbeat: { send: () => ({ type: 'heartbeat', timestamp: Date.now() }), interval: 30, timeout: 60 },
    });
    cleanup.push(() => c.close());
    await c.connect();
    const conn = [...server.connections][0];
    await vi.waitFor(() =>
      expect(conn?.frames.filter((f) => (f as { type?: string }).type === 'heartbeat').length).toBeGreaterThan(2),
    );
    expect(c.state).toBe('open'); // echoed heartbeats keep it alive
    server.silent = true;
    const closed = new Promise<{ code: number }>((resolve) => c.once('close', resolve));
    expect((await closed).code).toBe(4010);
  });

  it('throws a TypeError naming the WebSocket option when no implementation exists', () => {
    expect(() => createClient({ url: 'ws://x' })).toThrow(/pass `WebSocket` from 'ws'/);
    expect(() => createClient({ url: 'ws://x', WebSocket, codec: 'msgpack' as 'json' })).toThrow(/msgpackCodec/);
  });
});
