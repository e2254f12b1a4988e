import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonCodec } from '@tether/protocol';
import { msgpackCodec } from '@tether/protocol/msgpack';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serveOptions } from '../src/cli.js';
import { createMemoryPresence, createServer, type PresenceStore, serveStatic } from '../src/index.js';
import { cleanup, connectAs, RawClient, SECRET, startServer, token, waitFor } from './helpers.js';

afterEach(async () => {
  vi.restoreAllMocks();
  await cleanup();
});

describe('fan-out', () => {
  it('encodes a publication once per codec in use, whatever the number of subscribers', async () => {
    const server = await startServer();
    const json = await Promise.all(Array.from({ length: 20 }, (_, i) => connectAs(server, `j${i}`)));
    const packed = await Promise.all(
      Array.from({ length: 5 }, (_, i) => connectAs(server, `m${i}`, { codec: 'msgpack' })),
    );
    for (const c of [...json, ...packed]) await c.ok({ type: 'subscribe', channel: 'feed:1' });
    const jsonEncode = vi.spyOn(jsonCodec, 'encode');
    const packEncode = vi.spyOn(msgpackCodec, 'encode');
    await server.tether.publish('feed:1', { big: 'x'.repeat(1000) });
    for (const c of [...json, ...packed]) expect(await c.next('message')).toMatchObject({ offset: 1 });
    const messages = (spy: typeof jsonEncode) =>
      spy.mock.calls.filter(([frame]) => (frame as { type?: string }).type === 'message').length;
    expect(messages(jsonEncode)).toBe(1);
    expect(messages(packEncode)).toBe(1);
  });
});

describe('presence upkeep', () => {
  it('refreshes presence entries so a TTL-based presence store keeps live connections', async () => {
    const inner = createMemoryPresence({ sweepInterval: 50 });
    let adds = 0;
    const presence: PresenceStore = {
      ...inner,
      add: (channel, client, ttl) => {
        adds++;
        return inner.add(channel, client, ttl);
      },
    };
    const server = await startServer({ presence, presenceTtl: 1_000 });
    const c = await connectAs(server, 'stay');
    await c.ok({ type: 'subscribe', channel: 'room:ttl' });
    await c.next('presence_diff');
    // Five adds = the first plus four refreshes a third of the TTL apart: well past one TTL.
    await waitFor(() => adds >= 5, 4_000, 'presence refreshes');
    expect((await server.tether.presence('room:ttl')).map((p) => p.user)).toEqual(['stay']);
    expect(c.frames.filter((f) => f.type === 'presence_diff' && f.left !== 0)).toEqual([]);
  });
});

describe('attaching to an existing http.Server', () => {
  it('serves the endpoint on the app server, leaves other upgrade paths alone, and exposes handleRequest', async () => {
    const app = createHttpServer((req, res) => {
      if (tether.handleRequest(req, res)) return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('app page');
    });
    const tether = createServer({ server: app, logLevel: 'silent', auth: { jwtSecret: SECRET }, path: '/live' });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    try {
      const { port } = app.address() as AddressInfo;
      await tether.listen();
      const c = await RawClient.connect(`ws://127.0.0.1:${port}/live`, { token: await token('app-user') });
      expect(await c.next('welcome')).toMatchObject({ user: 'app-user' });
      expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({ status: 'ok' });
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('app page');
      c.terminate();
      await tether.close({ deadline: 500 });
      // The application's server keeps running after tether.close().
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('app page');
    } finally {
      await tether.close();
      app.closeAllConnections();
      await new Promise((r) => app.close(r));
    }
  });
});

describe('static files', () => {
  it('serves a built app with SPA fallback and never outside its folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-static-'));
    writeFileSync(join(dir, 'index.html'), '<h1>chat</h1>');
    writeFileSync(join(dir, 'app.js'), 'console.log(1)');
    const server = await startServer({ onRequest: serveStatic(dir) });
    const page = await fetch(`${server.http}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toBe('<h1>chat</h1>');
    expect(await (await fetch(`${server.http}/rooms/lobby`)).text()).toBe('<h1>chat</h1>');
    const js = await fetch(`${server.http}/app.js`);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${server.http}/missing.js`)).status).toBe(404);
    // `..` segments are resolved inside the folder: the SPA page, never the system file.
    const outside = await fetch(`${server.http}/%2e%2e/%2e%2e/etc/passwd`);
    expect(await outside.text()).toBe('<h1>chat</h1>');
  });
});

describe('tether serve options', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });
  const logger = pino({ level: 'silent' });

  it('reads TETHER_* variables, lets flags win, and takes namespaces from the config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-cli-'));
    const config = join(dir, 'tether.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        namespaces: { room: { presence: false } },
        limits: { maxSubscriptions: 3 },
        presenceInterval: '250ms',
        presenceListLimit: 50,
        maxPresencePage: 300,
      }),
    );
    Object.assign(process.env, {
      TETHER_PORT: '9999',
      TETHER_HOST: '127.0.0.1',
      TETHER_JWT_SECRET: 'env-secret',
      TETHER_API_KEY: 'env-key',
      TETHER_BROKER: 'memory',
      TETHER_HEARTBEAT_INTERVAL: '1000',
      TETHER_HEARTBEAT_TIMEOUT: '500',
      TETHER_MAX_PAYLOAD: '2048',
      TETHER_ALLOWED_ORIGINS: 'http://a.example, http://b.example',
      TETHER_CONFIG: config,
    });
    const o = await serveOptions({ port: 7000 }, logger);
    expect(o).toMatchObject({
      port: 7000,
      host: '127.0.0.1',
      path: '/ws',
      apiKey: 'env-key',
      auth: { jwtSecret: 'env-secret' },
      heartbeat: { interval: 1000, timeout: 500 },
      limits: { maxPayload: 2048, maxSubscriptions: 3 },
      allowedOrigins: ['http://a.example', 'http://b.example'],
      namespaces: { room: { presence: false } },
      presenceInterval: '250ms',
      presenceListLimit: 50,
      maxPresencePage: 300,
      devLogin: false,
    });
    expect(o.broker?.name).toBe('memory');
  });

  it('takes --require-exp and --api-key-failures from flags or TETHER_* variables', async () => {
    Object.assign(process.env, { TETHER_JWT_SECRET: 's', TETHER_BROKER: 'memory' });
    expect((await serveOptions({}, logger)).auth.requireExp).toBeUndefined();
    expect(await serveOptions({ requireExp: true, apiKeyFailures: '5' }, logger)).toMatchObject({
      auth: { requireExp: true },
      limits: { apiKeyFailures: 5 },
    });
    Object.assign(process.env, { TETHER_REQUIRE_EXP: '1', TETHER_API_KEY_FAILURES: '7' });
    expect(await serveOptions({}, logger)).toMatchObject({ auth: { requireExp: true }, limits: { apiKeyFailures: 7 } });
  });

  it('generates a secret in development, and refuses to start without one or with --dev in production', async () => {
    process.env.TETHER_BROKER = 'memory';
    delete process.env.TETHER_JWT_SECRET;
    const dev = await serveOptions({ dev: true }, logger);
    expect(typeof dev.auth.jwtSecret).toBe('string');
    expect((dev.auth.jwtSecret as string).length).toBeGreaterThan(20);
    expect(dev.devLogin).toBe(true);
    process.env.NODE_ENV = 'production';
    await expect(serveOptions({}, logger)).rejects.toThrow(/TETHER_JWT_SECRET/);
    process.env.TETHER_JWT_SECRET = 'prod-secret';
    await expect(serveOptions({ dev: true }, logger)).rejects.toThrow(/production/);
    expect((await serveOptions({}, logger)).devLogin).toBe(false);
  });
});
