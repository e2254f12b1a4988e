/**
 * The chat app with `share: 'tabs'`: three tabs of one person cost the server one connection, on
 * both paths (SharedWorker; and with SharedWorker removed, the leader tab elected with Web Locks).
 * A message reaches each tab once, presence lists the person once, and closing the first tab (the
 * leader on the second path) keeps the others connected, with a message sent meanwhile arriving
 * once in each. Another person, in another browser context, has a connection of their own.
 */
import { rm } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API_KEY,
  buildApp,
  launch,
  login,
  missing,
  type ServerProcess,
  screenshot,
  skipBrowser,
  startServer,
} from './harness.js';

const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 10_000, interval: 50 });

if (skipBrowser) process.stdout.write(`skipping the chat app share tests: ${missing}\n`);

async function connections(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^tether_connections (\d+)/m.exec(text)?.[1]);
}

/** The users of room:lobby's presence entries, one per connection, from the HTTP API. */
async function presence(base: string): Promise<string[]> {
  const res = await fetch(`${base}/api/presence?channel=room:lobby`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  const body = (await res.json()) as { clients: { user: string }[] };
  return body.clients.map((c) => c.user).sort();
}

const paths = [
  ['SharedWorker', true],
  ['Web Locks leader', false],
] as const;

describe.skipIf(skipBrowser).each(paths)('chat app, three tabs of one person, %s', (_label, worker) => {
  let web: string;
  let browser: Browser;
  let s: ServerProcess;

  beforeAll(async () => {
    [web, browser] = await Promise.all([buildApp(), launch()]);
    s = await startServer({ staticDir: web });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop('SIGKILL');
    if (s) await rm(s.dataDir, { recursive: true, force: true });
    if (web) await rm(web, { recursive: true, force: true });
  });

  it('one connection; each message once per tab; presence once; a closed tab changes nothing for the others', async () => {
    const ada = await browser.newContext();
    const other = await browser.newContext();
    const errors: string[] = [];
    try {
      if (!worker)
        await ada.addInitScript(() => {
          delete (globalThis as { SharedWorker?: unknown }).SharedWorker;
        });
      const tabs: Page[] = [];
      for (let i = 0; i < 3; i++) {
        const page = await ada.newPage();
        page.on('pageerror', (e) => errors.push(e.message));
        await login(page, s.base, 'ada');
        tabs.push(page);
      }
      await poll(() => connections(s.base)).toBe(1);

      const bob = await other.newPage();
      await login(bob, s.base, 'bob');
      await poll(() => connections(s.base)).toBe(2);
      // One connection for ada's three tabs: one presence entry in the server's list (the app's
      // member list shows each person once anyway).
      await bob.getByTestId('presence').getByText('ada', { exact: true }).waitFor();
      await poll(() => presence(s.base)).toEqual(['ada', 'bob']);

      const once = (page: Page, text: string) =>
        poll(() => page.getByTestId('message').filter({ hasText: text }).count()).toBe(1);
      await bob.getByTestId('composer').fill('hello all tabs');
      await bob.getByTestId('composer').press('Enter');
      for (const t of tabs) await once(t, 'hello all tabs');
      await tabs[1]!.getByTestId('composer').fill('from the second tab');
      await tabs[1]!.getByTestId('composer').press('Enter');
      for (const t of [...tabs, bob]) await once(t, 'from the second tab');

      await tabs[0]!.close();
      await bob.getByTestId('composer').fill('sent during the takeover');
      await bob.getByTestId('composer').press('Enter');
      for (const t of tabs.slice(1)) {
        await once(t, 'sent during the takeover');
        await t.getByTestId('connection').getByText('Connected').waitFor();
        expect(await t.getByTestId('message').filter({ hasText: 'hello all tabs' }).count()).toBe(1);
      }
      await poll(() => connections(s.base)).toBe(2);
      await poll(() => presence(s.base)).toEqual(['ada', 'bob']);
      await screenshot(tabs[1]!, `share-tabs-${worker ? 'worker' : 'leader'}`);
      expect(errors).toEqual([]);
    } finally {
      await ada.close();
      await other.close();
    }
  }, 60_000);
});
