/**
 * What every Chromium suite of the chat app shares: the app built once per file, one browser,
 * servers and browser contexts cleaned up after each test, a logged-in person per context.
 * Call `browserSuite()` inside a `describe`.
 */
import { rm } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { buildApp, launch, login, type ServerProcess, startServer } from './harness.js';

/** Waits for a condition the page reaches on its own (a stream, a reconnect): up to 10 s. */
export const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 10_000, interval: 50 });

export const messages = (page: Page) => page.getByTestId('message');

export function browserSuite() {
  let web = '';
  let browser: Browser | undefined;
  const servers: ServerProcess[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [web, browser] = await Promise.all([buildApp(), launch()]);
  }, 60_000);

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
    for (const s of servers.splice(0)) {
      await s.stop('SIGKILL');
      await rm(s.dataDir, { recursive: true, force: true });
    }
  });

  afterAll(async () => {
    await browser?.close();
    if (web) await rm(web, { recursive: true, force: true });
  });

  /** A fresh browser context (its own storage), closed after the test. */
  async function context(width = 1100): Promise<BrowserContext> {
    if (!browser) throw new Error('browserSuite: no browser (beforeAll failed)');
    const c = await browser.newContext({
      viewport: { width, height: width < 500 ? 740 : 760 },
      ...(width < 500 && { deviceScaleFactor: 1 }),
    });
    contexts.push(c);
    return c;
  }

  return {
    /** The real CLI with the chat plugin, serving the built app; killed after the test. */
    async server(opts: Partial<Parameters<typeof startServer>[0]> = {}): Promise<ServerProcess> {
      const s = await startServer({ staticDir: web, ...opts });
      servers.push(s);
      return s;
    },
    context,
    /** A person logged in as `name` in a context of their own. */
    async person(base: string, name: string, width = 1100, hash = ''): Promise<Page> {
      const page = await (await context(width)).newPage();
      await login(page, base, name, hash);
      return page;
    },
  };
}
