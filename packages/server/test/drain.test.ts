import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { socketOf } from '../src/ws-socket.js';
import { cleanup, connectAs, RawClient, refusedStatus, SECRET, startServer, token, within } from './helpers.js';

const children: ChildProcess[] = [];
afterEach(async () => {
  await cleanup();
  for (const child of children.splice(0)) if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
});

describe('close() drains', () => {
  it('marks the node unready first, refuses upgrades, then closes every client with 1012', async () => {
    // A delay long enough for the checks below on a loaded machine (300 ms was not).
    const server = await startServer({ drainDelay: 1_000 });
    const clients = await Promise.all(Array.from({ length: 12 }, (_, i) => connectAs(server, `u${i}`)));
    await clients[0]?.ok({ type: 'subscribe', channel: 'room:d' });
    const closing = server.tether.close({ deadline: 4_000 });
    // During the drain delay: unready, no new sockets, existing ones still open.
    expect(server.tether.draining).toBe(true);
    const ready = await fetch(`${server.http}/readyz`);
    expect(ready.status).toBe(503);
    const t = await token('late');
    expect((await refusedStatus(server.url, { headers: { authorization: `Bearer ${t}` } })).status).toBe(503);
    expect(clients.every((c) => c.ws.readyState === c.ws.OPEN)).toBe(true);
    const started = Date.now();
    const codes = await within(Promise.all(clients.map((c) => c.closed)), 4_000, 'every client to be closed');
    expect(codes.map((c) => c.code)).toEqual(clients.map(() => 1012));
    await closing;
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(server.tether.connections).toBe(0);
  });

  it('terminates clients that do not finish the close handshake by the deadline', async () => {
    const server = await startServer();
    const c = await connectAs(server);
    // A client that stops reading never answers the close frame.
    (socketOf(c.ws) as Socket).pause();
    const started = Date.now();
    await server.tether.close({ deadline: 400 });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(server.tether.connections).toBe(0);
  });
});

describe('tether serve (CLI process)', () => {
  it('on SIGTERM sends 1012 to each client and exits 0 within the deadline', async () => {
    const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        cli,
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--broker',
        'memory',
      ],
      {
        env: { ...process.env, TETHER_JWT_SECRET: SECRET, TETHER_LOG_LEVEL: 'info', TETHER_DRAIN_DEADLINE: '3000' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const port = await within(
      new Promise<number>((resolve) => {
        let out = '';
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          for (const line of out.split('\n')) {
            if (!line.includes('tether listening')) continue;
            resolve((JSON.parse(line) as { port: number }).port);
          }
        });
      }),
      15_000,
      'the CLI to listen',
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${stderr}`);
    });
    const url = `ws://127.0.0.1:${port}/ws`;
    const clients: RawClient[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await RawClient.connect(url, { token: await token(`cli${i}`) });
      await c.next('welcome');
      clients.push(c);
    }
    const started = Date.now();
    process.kill(child.pid as number, 'SIGTERM');
    const codes = await within(Promise.all(clients.map((c) => c.closed)), 5_000, 'the clients to be closed');
    expect(codes.map((c) => c.code)).toEqual([1012, 1012, 1012, 1012, 1012]);
    expect(await within(exited, 5_000, 'the process to exit')).toBe(0);
    expect(Date.now() - started).toBeLessThan(3_000 + 1_000);
  }, 30_000);
});
