/**
 * The seed's drop-in in real Chromium: `@tether/client` bundled for the browser by esbuild as an
 * application would bundle it, `WebSocketManager` with only the seed's options, against
 *   - a plain `ws` server that selects no subprotocol (`handleProtocols: () => false`, the default
 *     of most servers) at `/api/websocket?token=…`,
 *   - a `ws` server with its defaults that never speaks first,
 *   - `tether serve --path /api/websocket` (the CLI in a child process).
 * Chromium fails a handshake whose offered subprotocol the server does not select, so these fail
 * if the client offers one. Needs /usr/bin/chromium: skipped with a printed reason locally, a
 * failure under CI=true.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { signToken } from '@tether/server';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { launchChromium, skipWithoutChromium } from './chromium.js';

const skip = skipWithoutChromium('browser.test.ts');

const root = fileURLToPath(new URL('../../..', import.meta.url));
const SECRET = 'browser-test-secret-of-some-length-0123456789';

let browser: Browser;
let pageServer: Server;
let origin = '';
let page: Page;
const cleanups: (() => Promise<void> | void)[] = [];

/** Resolves once `check()` holds; fails after `ms` with `what`. Polls the page or the server. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What the page saw: 'connect', 'disconnect' and every message, in order. */
const seen = (): Promise<unknown[]> => page.evaluate(() => (window as unknown as { seen: unknown[] }).seen);
const count = async (x: string): Promise<number> => (await seen()).filter((e) => e === x).length;

/** Opens the seed's manager in the page, with only the seed's options. */
async function openManager(url: string): Promise<void> {
  await page.evaluate((u) => {
    const w = window as unknown as Record<string, unknown>;
    const seenList: unknown[] = [];
    w.seen = seenList;
    const { WebSocketManager } = w.Tether as typeof import('../src/index.js');
    const m = new WebSocketManager({
      url: u,
      onConnect: () => seenList.push('connect'),
      onDisconnect: () => seenList.push('disconnect'),
      onMessage: (msg) => seenList.push({ msg }),
      onError: () => {},
    });
    w.m = m;
    m.client.on('open', (ctx) => {
      w.welcome = ctx.welcome;
    });
    void m.connect();
  }, url);
}

const managerSend = (data: unknown): Promise<void> =>
  page.evaluate((d) => (window as unknown as { m: { send(x: unknown): void } }).m.send(d), data);

describe.skipIf(skip)('WebSocketManager in Chromium', () => {
  beforeAll(async () => {
    browser = await launchChromium();
    const bundle = await build({
      stdin: {
        contents: "import * as Tether from '@tether/client'; globalThis.Tether = Tether;",
        resolveDir: fileURLToPath(new URL('.', import.meta.url)),
        loader: 'ts',
      },
      bundle: true,
      minify: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      // The workspace package from source (no build first); an application gets dist/, the same code.
      conditions: ['source'],
      write: false,
      logLevel: 'error',
    });
    const js = bundle.outputFiles[0]?.text ?? '';
    pageServer = createHttpServer((req, res) => {
      if (req.url === '/client.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(js);
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>seed</title><script src="/client.js"></script>');
      }
    });
    await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => pageServer?.close(r));
  });

  afterEach(async () => {
    await page?.evaluate(() => (window as unknown as { m?: { disconnect(): void } }).m?.disconnect()).catch(() => {});
    await page?.close();
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function newPage(): Promise<void> {
    page = await browser.newPage();
    await page.goto(origin);
    await page.waitForFunction(() => 'Tether' in window);
  }

  /** A `ws` server on loopback; `down` refuses upgrades (401) so the page has to wait and retry. */
  async function plainServer(opts: { selectNone: boolean; greet: boolean }) {
    const state = { down: false, protocolsOffered: [] as (string | undefined)[], urls: [] as string[] };
    const received: string[] = [];
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      path: '/api/websocket',
      ...(opts.selectNone && { handleProtocols: () => false as const }),
      verifyClient: (_info, cb) => cb(!state.down, 401),
    });
    wss.on('connection', (ws: WebSocket, req) => {
      state.protocolsOffered.push(req.headers['sec-websocket-protocol']);
      state.urls.push(req.url ?? '');
      ws.on('message', (d) => received.push(String(d)));
      if (opts.greet) {
        ws.send(JSON.stringify({ event_id: 'e1', data: { type: 'FINISH' } }));
        ws.send('not json');
      }
    });
    await new Promise((r) => wss.once('listening', r));
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    const port = (wss.address() as AddressInfo).port;
    return { wss, state, received, url: `ws://127.0.0.1:${port}/api/websocket?token=seed-token` };
  }

  it('a plain server that selects no subprotocol: connects, delivers, sends JSON, reconnects, flushes once in order', async () => {
    const s = await plainServer({ selectNone: true, greet: true });
    await newPage();
    await openManager(s.url);
    await until('the first connect', async () => (await count('connect')) === 1);
    await until('both greetings', async () => (await seen()).length === 3);
    expect(await seen()).toEqual([
      'connect',
      { msg: { event_id: 'e1', data: { type: 'FINISH' } } },
      { msg: 'not json' },
    ]);
    expect(s.state.protocolsOffered).toEqual([undefined]);
    expect(s.state.urls).toEqual(['/api/websocket?token=seed-token']);
    expect(await page.evaluate(() => (window as unknown as { m: { client: { plain: boolean } } }).m.client.plain)).toBe(
      true,
    );
    expect(await page.evaluate(() => (window as unknown as { welcome?: unknown }).welcome)).toBeUndefined();

    await managerSend({ type: 'chat', text: 'hi' });
    await until('the chat frame', () => s.received.length === 1);
    expect(JSON.parse(s.received[0] as string)).toEqual({ type: 'chat', text: 'hi' });

    // The server drops every connection and refuses new ones for a while.
    s.state.down = true;
    for (const ws of s.wss.clients) ws.terminate();
    await until('onDisconnect', async () => (await count('disconnect')) === 1);
    await managerSend({ n: 1 });
    await managerSend('two');
    expect(await page.evaluate(() => (window as unknown as { m: { isConnected: boolean } }).m.isConnected)).toBe(false);
    s.state.down = false;
    await until('the reconnect', async () => (await count('connect')) === 2, 15_000);
    await until('the queued frames', () => s.received.length === 3);
    expect(s.received.slice(1)).toEqual(['{"n":1}', 'two']);
    expect(s.state.protocolsOffered.every((p) => p === undefined)).toBe(true);
  });

  it('a ws server with its defaults that never speaks first: plain mode, onConnect once, send arrives', async () => {
    const s = await plainServer({ selectNone: false, greet: false });
    await newPage();
    await openManager(s.url);
    await until('the connect', async () => (await count('connect')) === 1);
    // Nothing was offered, so there was nothing for the server to echo.
    expect(s.state.protocolsOffered).toEqual([undefined]);
    expect(await page.evaluate(() => (window as unknown as { m: { client: { plain: boolean } } }).m.client.plain)).toBe(
      true,
    );
    await managerSend({ type: 'heartbeat' });
    await until('the frame', () => s.received.length === 1);
    expect(s.received).toEqual(['{"type":"heartbeat"}']);
    expect(await count('connect')).toBe(1);
  });

  describe('against tether serve', () => {
    let child: ChildProcess | undefined;
    let port = 0;

    beforeAll(async () => {
      const probe = createHttpServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      port = (probe.address() as AddressInfo).port;
      await new Promise((r) => probe.close(r));
      child = spawn(
        process.execPath,
        [
          '--conditions=source',
          '--import',
          'tsx',
          `${root}packages/server/src/cli.ts`,
          'serve',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--path',
          '/api/websocket',
          '--jwt-secret',
          SECRET,
          '--broker',
          'memory',
          '--allowed-origins',
          origin,
          '--log-level',
          'warn',
        ],
        { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } },
      );
      let err = '';
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      await until(
        `tether serve on ${port} (${err})`,
        async () => {
          if (child?.exitCode !== null) throw new Error(`tether serve exited: ${err}`);
          return fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.ok,
            () => false,
          );
        },
        20_000,
      );
    }, 30_000);

    afterAll(async () => {
      if (child && child.exitCode === null) {
        const gone = new Promise((r) => child?.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
    });

    it('the same page is in Tether mode: welcome, a channel subscription, a publication delivered', async () => {
      await newPage();
      const token = await signToken(SECRET, { user: 'ann' });
      await openManager(`ws://127.0.0.1:${port}/api/websocket?token=${token}`);
      await until('the connect', async () => (await count('connect')) === 1);
      const result = await page.evaluate(async () => {
        const m = (window as unknown as { m: import('../src/index.js').WebSocketManager }).m;
        const got: unknown[] = [];
        const sub = m.client.subscribe('room:lobby', { onMessage: (d) => got.push(d) });
        await sub.ready;
        const res = await sub.publish({ text: 'hi' });
        for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
        return { plain: m.client.plain, connected: m.isConnected, offset: res.offset, got };
      });
      expect(result).toEqual({ plain: false, connected: true, offset: 1, got: [{ text: 'hi' }] });
      const welcome = await page.evaluate(() => (window as unknown as { welcome?: { user: string } }).welcome);
      expect(welcome).toMatchObject({ type: 'welcome', user: 'ann' });
      // The publication also reached onMessage, as a Tether `message` frame.
      expect(await seen()).toContainEqual({ msg: expect.objectContaining({ type: 'message', channel: 'room:lobby' }) });
    });
  });
});
