/**
 * The client against misbehaving servers over real loopback sockets: every awaited promise must
 * settle, and the client must do what the close-code table says.
 */
import { CLOSE_POLICY, closePolicy } from '@tether/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { type ClientOptions, createClient, DisconnectedError, type TetherClient } from '../src/index.js';
import { createFakeServer, type FakeServer, waitFor } from './fake-server.js';

const servers: FakeServer[] = [];
const clients: TetherClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(opts?: Parameters<typeof createFakeServer>[0]): Promise<FakeServer> {
  const s = await createFakeServer(opts);
  servers.push(s);
  return s;
}

function client(url: string, opts: Partial<ClientOptions> = {}): TetherClient {
  const c = createClient({
    url,
    WebSocket,
    reconnect: { initialDelay: 10, maxDelay: 100 },
    requestTimeout: 2000,
    ...opts,
  });
  clients.push(c);
  return c;
}

describe('hostile servers', () => {
  it('drops every connection at once: all clients come back, in-flight rpcs reject, none hang', async () => {
    const s = await server({ rpc: { never: () => new Promise(() => {}) } });
    const cs = [client(s.url), client(s.url), client(s.url)];
    await Promise.all(cs.map((c) => c.connect()));
    // A request the server never answers, outstanding when the connection dies.
    const hanging = cs.map((c) => c.rpc('nothing-answers-this', undefined, { timeout: 10_000 }));
    for (const c of cs) await vi.waitFor(() => expect(c.state).toBe('open'));
    s.closeAll(1011, 'boom');
    s.terminateAll();
    const results = await Promise.allSettled(hanging);
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof DisconnectedError)).toBe(true);
    for (const c of cs) await vi.waitFor(() => expect(c.state).toBe('open'), { timeout: 3000 });
    expect(await cs[0]?.rpc('echo', 7)).toBe(7);
  });

  it('accepts then goes silent (half-open): the client notices from the silence, closes and reconnects', async () => {
    const s = await server({ heartbeat: { interval: 100, timeout: 100 }, pingEvery: 40 });
    const c = client(s.url);
    await c.connect();
    const closed = waitFor(c, 'close', 3000);
    const inFlight = c.rpc('echo', 1, { timeout: 5000 });
    s.silent = true; // no more pings, no replies: the TCP connection stays up
    const started = Date.now();
    const [{ code }] = await closed;
    expect(code).toBe(4010);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(inFlight).rejects.toBeInstanceOf(DisconnectedError);
    s.silent = false;
    await vi.waitFor(() => expect(c.state).toBe('open'), { timeout: 3000 });
    expect(await c.rpc('echo', 2)).toBe(2);
  });

  it('sends garbage: the client stays up, hands non-protocol frames to message listeners, keeps working', async () => {
    const garbage = [
      'not json at all',
      '{"type":"nonsense","x":1}',
      '[1,2,3]',
      '{"type":"reply","id":424242,"ok":true,"result":1}',
      '{"type":"message","channel":"room:a"}',
      '{"type":"reply","id":"x"}',
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      '{"__proto__":{"polluted":true},"type":"x"}',
    ];
    const s = await server({
      onConnection: (conn) => {
        for (const g of garbage) conn.ws.send(g);
        conn.ws.send(Buffer.from([0xff, 0x00, 0xfe]));
      },
    });
    const c = client(s.url);
    const seen: unknown[] = [];
    const errors: unknown[] = [];
    c.on('message', (m) => seen.push(m));
    c.on('error', (e) => errors.push(e));
    await c.connect();
    await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(garbage.length));
    expect(seen).toContain('not json at all');
    expect(seen).toContainEqual({ type: 'nonsense', x: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(c.state).toBe('open');
    expect(await c.rpc('echo', 'still fine')).toBe('still fine');
  });

  it('closes with each policy code: the client reconnects or stops as the table says', async () => {
    const codes = Object.keys(CLOSE_POLICY)
      .map(Number)
      .filter((code) => code !== 1006); // 1006 cannot be sent; "drops every connection" covers it
    for (const code of codes) {
      let first = true;
      const s = await server({
        onConnection: (conn) => {
          if (first) setImmediate(() => conn.ws.close(code, 'policy test'));
          first = false;
        },
      });
      const tokens = vi.fn(() => `t${tokens.mock.calls.length}`);
      const c = client(s.url, { token: tokens });
      const closed = waitFor(c, 'close');
      await c.connect();
      const [ctx] = await closed;
      const policy = closePolicy(code);
      expect(ctx.code, `code ${code}`).toBe(code);
      expect(ctx.reconnect, `code ${code}`).toBe(policy.reconnect);
      if (policy.reconnect) {
        await vi.waitFor(() => expect(c.state, `code ${code}`).toBe('open'), { timeout: 3000 });
        expect(s.accepted).toBe(2);
        expect(tokens).toHaveBeenCalledTimes(2); // a fresh token on every connect, 4001 included
      } else {
        expect(c.state, `code ${code}`).toBe('closed');
        await expect(c.rpc('echo')).rejects.toBeInstanceOf(DisconnectedError);
      }
      c.close();
    }
  });

  it('restarts on the same port: the client reconnects by itself and subscriptions come back', async () => {
    const s = await server();
    const c = client(s.url);
    const got: unknown[] = [];
    const sub = c.subscribe('room:r', { onMessage: (d) => got.push(d) });
    await c.connect();
    await sub.ready;
    const resubscribed = waitFor(sub, 'subscribed');
    await s.restart();
    await resubscribed;
    s.publish('room:r', 'after restart');
    await vi.waitFor(() => expect(got).toEqual(['after restart']));
    expect(c.stats.reconnects).toBe(1);
  });

  it('connect() to a server that never exists rejects once maxAttempts is spent', async () => {
    const s = await server();
    const url = s.url;
    await s.close();
    const c = client(url, { reconnect: { initialDelay: 5, maxAttempts: 3 } });
    await expect(c.connect()).rejects.toBeInstanceOf(DisconnectedError);
    expect(c.state).toBe('closed');
  });
});
