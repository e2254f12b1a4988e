/**
 * The admin page in real Chromium against a real server: log in with the API key, see a client's
 * connection appear, see the publication rate rise while the test publishes, watch a channel and
 * publish a test message to it, disconnect a client (it gets 1008 and comes back) and
 * disconnect-and-refuse it (it cannot reconnect until the period ends). Screenshots go to the
 * git-ignored test/admin/artifacts/.
 */

import { signToken } from '@tether/server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, cleanup, refusedStatus, SECRET, startServer, type TestServer, token, waitFor } from '../helpers.js';
import { buildPage, launch, login, screenshot, sdkClient, skipBrowser, type Watched } from './page-harness.js';

let browser: Browser | undefined;
let pageDir = '';
const clients: Watched[] = [];

beforeAll(async () => {
  if (skipBrowser) return;
  [pageDir, browser] = await Promise.all([buildPage(), launch()]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.client.close();
  await cleanup();
});

async function openConsole(): Promise<{ s: TestServer; page: Page }> {
  const s = await startServer({ admin: { page: pageDir, interval: 200 } });
  const page = await login(browser as Browser, s.http, API_KEY);
  return { s, page };
}

const row = (page: Page, user: string) => page.locator(`[data-testid="connection-row"][data-user="${user}"]`);
const rate = async (page: Page): Promise<number> =>
  Number(((await page.getByTestId('rate').textContent()) ?? '').replace(/,/g, ''));

describe.skipIf(skipBrowser)('the admin page in Chromium', () => {
  it('shows a connection as it arrives and the publication rate while the test publishes', async () => {
    const { s, page } = await openConsole();
    expect(await row(page, 'carol').count()).toBe(0);
    const carol = sdkClient(s.url, await token('carol'));
    clients.push(carol);
    await carol.client.connect();
    await row(page, 'carol').waitFor({ timeout: 5_000 });
    await expect(row(page, 'carol').textContent()).resolves.toContain('carol');
    await waitFor(async () => (await page.title()) === '2 connected · Tether admin', 5_000, 'the tab title');

    const sub = carol.client.subscribe('room:e2e', { onMessage: () => {} });
    await sub.ready;
    // Idle: the rate settles at 0 once a snapshot interval passes with no publication.
    await waitFor(async () => (await rate(page)) === 0, 5_000);
    let publishing = true;
    let sent = 0;
    const loop = (async () => {
      // About 30 a second: under the default rate limit of 50 frames per second.
      while (publishing) {
        await sub.publish({ n: sent });
        sent += 1;
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    try {
      await waitFor(async () => (await rate(page)) >= 10, 10_000);
    } finally {
      publishing = false;
      await loop;
    }
    expect(sent).toBeGreaterThan(0);
    await page.locator('[data-testid="channel-row"][data-channel="room:e2e"]').waitFor();
    await screenshot(page, 'admin-live');
    // The rate falls back once the test stops publishing: it is live, not a running total.
    await waitFor(async () => (await rate(page)) === 0, 5_000);
  });

  it('watches a channel and publishes a test message to it', async () => {
    const { s, page } = await openConsole();
    const dave = sdkClient(s.url, await token('dave'));
    clients.push(dave);
    await dave.client.connect();
    const got: unknown[] = [];
    await dave.client.subscribe('room:watch', { onMessage: (d) => got.push(d) }).ready;
    await page.locator('[data-testid="channel-row"][data-channel="room:watch"]').click();
    await page.getByTestId('channel-watch').locator('.state', { hasText: 'subscribed' }).waitFor({ timeout: 5_000 });
    await page.getByTestId('publish-data').fill('{"probe": 42}');
    await page.getByTestId('publish-send').click();
    await page.getByTestId('channel-message').filter({ hasText: '"probe":42' }).waitFor({ timeout: 5_000 });
    await waitFor(() => got.length > 0, 5_000);
    expect(got).toEqual([{ probe: 42 }]);
    await screenshot(page, 'admin-channel-watch');
  });

  it('disconnects a client with 1008, and with refuse keeps it out until the period ends', async () => {
    const { s, page } = await openConsole();
    const erin = sdkClient(s.url, () => token('erin'));
    clients.push(erin);
    await erin.client.connect();
    await row(page, 'erin').waitFor({ timeout: 5_000 });

    const first = row(page, 'erin').getAttribute('data-connection');
    await row(page, 'erin').getByTestId('disconnect').click();
    await waitFor(() => erin.closes.length === 1, 5_000);
    expect(erin.closes[0]?.code).toBe(1008);
    // Not refused: the client is back, on a new connection the page shows.
    await waitFor(() => erin.opens.length === 2, 5_000);
    await waitFor(async () => (await row(page, 'erin').getAttribute('data-connection')) !== (await first), 5_000);

    await row(page, 'erin').getByTestId('refuse').click();
    await page.getByTestId('refuse-minutes').fill('0.05'); // 3 s
    await screenshot(page, 'admin-refuse');
    await page.getByTestId('refuse-confirm').click();
    await waitFor(() => erin.closes.length === 2, 5_000);
    const closedAt = erin.closes[1]?.at as number;
    expect(erin.closes[1]?.code).toBe(1008);
    const refused = await refusedStatus(`${s.url}?token=${await token('erin')}`, { protocols: ['tether.v1'] });
    expect(refused.status).toBe(403);
    await page.getByTestId('refused-user').filter({ hasText: 'erin' }).waitFor({ timeout: 5_000 });
    await waitFor(() => erin.opens.length === 3, 8_000);
    // Retried every ≤300 ms meanwhile, but admitted only once the 3 s had passed.
    expect((erin.opens[2] as number) - closedAt).toBeGreaterThanOrEqual(2_900);
    await row(page, 'erin').waitFor({ timeout: 5_000 });
  });

  it("logs in with an admin: true token, and refuses a normal user's token at the form", async () => {
    const s = await startServer({ admin: { page: pageDir, interval: 200 } });
    const denied = await (browser as Browser).newPage();
    await denied.goto(`${s.http}/admin/`);
    await denied.getByTestId('admin-key').fill(await token('mallory'));
    const [answer] = await Promise.all([
      denied.waitForResponse((r) => r.url().endsWith('/admin/login')),
      denied.getByTestId('admin-login').click(),
    ]);
    expect(answer.status()).toBe(401);
    await denied.getByRole('alert').filter({ hasText: 'neither the API key nor an admin token' }).waitFor();
    expect(await denied.getByTestId('node-picker').count()).toBe(0);
    await denied.close();

    const page = await login(browser as Browser, s.http, await signToken(SECRET, { user: 'ops', admin: true }));
    await page.locator('.who', { hasText: 'ops' }).waitFor({ timeout: 5_000 });
    await row(page, 'ops').waitFor({ timeout: 5_000 });
  });
});
