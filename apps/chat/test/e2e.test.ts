/**
 * End to end: the web app, built by Vite into a temp directory, served by a real Tether server
 * with the chat responders and the dev login, driven by headless Chromium (playwright-core).
 * Skipped with a printed reason when Chromium is missing, except under CI=true, where it fails.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, memoryBroker, serveStatic, type TetherServer } from '@tether/server';
import vue from '@vitejs/plugin-vue';
import { type Browser, chromium } from 'playwright-core';
import { build, defaultClientConditions } from 'vite';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Chat, namespaces, setupChat } from '../server/responders.js';

const CHROMIUM = '/usr/bin/chromium';
const ci = process.env.CI === 'true';
const missing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found`;
if (missing && !ci) process.stdout.write(`skipping the chat app e2e test: ${missing}\n`);

describe.skipIf(missing !== undefined && !ci)('chat app in Chromium', () => {
  let outDir: string;
  let browser: Browser;
  let server: TetherServer;
  let chat: Chat;
  let base: string;

  beforeAll(async () => {
    if (missing) throw new Error(`CI=true needs Chromium for the e2e test: ${missing}`);
    outDir = await mkdtemp(join(tmpdir(), 'tether-chat-e2e-'));
    await build({
      configFile: false,
      logLevel: 'silent',
      root: fileURLToPath(new URL('../web', import.meta.url)),
      plugins: [vue()],
      // Workspace packages from source: the test needs no prior `npm run build`.
      resolve: { conditions: ['source', ...defaultClientConditions] },
      build: { outDir, emptyOutDir: true },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    server = createServer({
      host: '127.0.0.1',
      port: 0,
      auth: { jwtSecret: 'chat-e2e-secret-of-a-decent-length-0123456789' },
      broker: memoryBroker(),
      logLevel: 'silent',
      drainDelay: 0,
      devLogin: true,
      namespaces,
      onRequest: serveStatic(outDir),
      authorize: (ctx, channel, action) => chat.authorize(ctx, channel, action),
    });
    chat = setupChat(server, { chunkDelay: 10 });
    const { port } = await server.listen();
    base = `http://127.0.0.1:${port}`;
  });

  afterEach(async () => {
    chat.close();
    await server.close({ deadline: 1000 });
  });

  it('logs in, shows the connection and presence, sends a room message, streams an assistant reply', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(base);
      await page.fill('input[name=user]', 'ada');
      await page.click('button[type=submit]');

      const conn = page.getByTestId('connection');
      await conn.getByText('connected').waitFor({ timeout: 10_000 });
      await page.getByTestId('presence').getByText('ada').waitFor({ timeout: 10_000 });

      await page.fill('input[name=room-message]', 'hello from chromium');
      await page.press('input[name=room-message]', 'Enter');
      await page.getByTestId('room-messages').getByText('hello from chromium').waitFor({ timeout: 10_000 });

      await page.fill('input[name=assistant-message]', '12 * 7');
      await page.press('input[name=assistant-message]', 'Enter');
      await page.getByTestId('assistant-messages').getByText('12 * 7 = 84.').waitFor({ timeout: 10_000 });
      await page.getByTestId('session-title').getByText('12 * 7').waitFor({ timeout: 10_000 });
      expect(await conn.textContent()).toContain('connected');

      // A second user in another browser context: both are present, and messages cross over.
      const other = await browser.newContext();
      try {
        const bob = await other.newPage();
        await bob.goto(base);
        await bob.fill('input[name=user]', 'bob');
        await bob.click('button[type=submit]');
        await bob.getByTestId('presence').getByText('ada').waitFor({ timeout: 10_000 });
        await page.getByTestId('presence').getByText('bob').waitFor({ timeout: 10_000 });
        await bob.fill('input[name=room-message]', 'hi ada, bob here');
        await bob.press('input[name=room-message]', 'Enter');
        await page.getByTestId('room-messages').getByText('hi ada, bob here').waitFor({ timeout: 10_000 });
      } finally {
        await other.close();
      }
    } finally {
      await context.close();
    }
  }, 60_000);
});
