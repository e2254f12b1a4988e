/**
 * Plumbing for the admin page tests: the page built by Vite from packages/admin into a temp
 * folder (sources of the workspace packages, so no prior build is needed), headless Chromium,
 * the login through the form, a Node client that records its closes, and screenshots under the
 * git-ignored test/admin/artifacts/.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type TetherClient } from '@tether/client';
import { chromiumMissing, skipChromium } from '@tether/test-browser';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import WebSocket from 'ws';

/** True when the browser tests must be skipped; under CI=true they never are (launch throws). */
export const skipBrowser = skipChromium;
if (skipBrowser) process.stderr.write(`[admin page tests] skipped: ${chromiumMissing}\n`);

export const ARTIFACTS = fileURLToPath(new URL('./artifacts', import.meta.url));
const ADMIN = fileURLToPath(new URL('../../../admin', import.meta.url));

/** Builds the admin page with its own Vite config into a temp folder; resolves with the folder. */
export async function buildPage(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'tether-admin-page-'));
  await build({
    root: ADMIN,
    configFile: join(ADMIN, 'vite.config.ts'),
    logLevel: 'silent',
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}

/** Chromium with the closed network's flags; throws under CI=true when it is missing. */
export { launchChromium as launch } from '@tether/test-browser';

/** Opens `/admin/` on `http`, types `secret` into the form and waits for the live console. */
export async function login(browser: Browser, http: string, secret: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const res = await page.goto(`${http}/admin/`);
  if (res?.status() !== 401) throw new Error(`anonymous /admin/ answered ${res?.status()}, not 401`);
  await page.getByTestId('admin-key').fill(secret);
  await page.getByTestId('admin-login').click();
  await page.getByTestId('node-picker').waitFor({ timeout: 10_000 });
  await page.getByTestId('link-state').filter({ hasText: 'live' }).waitFor({ timeout: 10_000 });
  if (errors.length) throw new Error(`the page threw: ${errors.join('; ')}`);
  return page;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A real SDK client whose closes and re-opens are recorded with their times. */
export interface Watched {
  client: TetherClient;
  closes: { code: number; at: number }[];
  opens: number[];
}

export function sdkClient(url: string, token: string | (() => Promise<string>)): Watched {
  const client = createClient({
    url,
    WebSocket: WebSocket as never,
    token: typeof token === 'string' ? () => token : token,
    reconnect: { minDelay: 100, maxDelay: 300, jitter: 0 },
  });
  const w: Watched = { client, closes: [], opens: [] };
  client.on('close', ({ code }) => w.closes.push({ code, at: Date.now() }));
  client.on('open', () => w.opens.push(Date.now()));
  return w;
}
