/**
 * The chat app end to end: the web app built by Vite, the real `tether serve --plugin` in a
 * child process, headless Chromium (playwright-core). Skipped with a printed reason when
 * Chromium is missing, except under CI=true, where that fails.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { replyTo } from '../server/responder.js';
import {
  buildApp,
  launch,
  login,
  missing,
  type ServerProcess,
  screenshot,
  skipBrowser,
  startServer,
  watchConsole,
} from './harness.js';

if (skipBrowser) process.stdout.write(`skipping the chat app e2e tests: ${missing}\n`);

describe.skipIf(skipBrowser)('chat app in Chromium', () => {
  let web: string;
  let browser: Browser;
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

  async function server(opts: Partial<Parameters<typeof startServer>[0]> = {}): Promise<ServerProcess> {
    const s = await startServer({ staticDir: web, ...opts });
    servers.push(s);
    return s;
  }

  async function person(base: string, name: string, width = 1100, hash = ''): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: width < 500 ? 740 : 760 } });
    contexts.push(context);
    const page = await context.newPage();
    await login(page, base, name, hash);
    return page;
  }

  const messages = (page: Page) => page.getByTestId('message');

  it('two people in a room: messages, presence, typing, unread counts and a mention toast', async () => {
    const s = await server();
    const ada = await person(s.base, 'ada');
    const problems = watchConsole(ada);
    const bob = await person(s.base, 'bob');
    await ada.getByTestId('presence').getByText('bob').waitFor();
    await bob.getByTestId('presence').getByText('ada').waitFor();

    // Typing shows on the other side, and is not a message.
    await bob.getByTestId('composer').pressSequentially('hel');
    await ada.getByTestId('typing').getByText('bob is typing…').waitFor();
    await bob.getByTestId('composer').fill('hello ada, line one');
    await bob.getByTestId('composer').press('Shift+Enter');
    await bob.getByTestId('composer').pressSequentially('line two');
    await bob.getByTestId('composer').press('Enter');
    const got = messages(ada).filter({ hasText: 'line two' });
    await got.waitFor();
    expect(await got.locator('.text').textContent()).toBe('hello ada, line one\nline two');
    await expect.poll(() => ada.getByTestId('typing').textContent()).toBe('');
    await expect.poll(() => messages(bob).last().getAttribute('data-status')).toBe('sent');
    expect(await messages(bob).last().getAttribute('class')).toContain('mine');
    expect(await messages(ada).last().getAttribute('class')).not.toContain('mine');

    // Ada looks at #random; two messages in #lobby count as unread there.
    await ada.locator('[data-testid=room][data-room=random]').click();
    await ada.getByRole('heading', { name: '#random' }).waitFor();
    await bob.getByTestId('composer').fill('are you there?');
    await bob.getByTestId('composer').press('Enter');
    await bob.getByTestId('composer').fill('@ada look at this');
    await bob.getByTestId('composer').press('Enter');
    const unread = ada.locator('[data-testid=room][data-room=lobby] [data-testid=unread]');
    await expect.poll(() => unread.textContent().catch(() => '')).toBe('2');

    // The mention raised a toast; it jumps to the room, which clears the count.
    const toast = ada.getByTestId('toast');
    await toast.getByText('bob mentioned you in #lobby').waitFor();
    await toast.getByRole('button', { name: 'Open #lobby' }).click();
    await ada.getByRole('heading', { name: '#lobby' }).waitFor();
    await messages(ada).filter({ hasText: '@ada look at this' }).waitFor();
    expect(await unread.count()).toBe(0);
    expect(await messages(ada).count()).toBe(3);
    expect(problems).toEqual([]);
  }, 30_000);

  it('a newcomer sees the recent history; a reload shows the same messages and session list', async () => {
    const s = await server();
    const ada = await person(s.base, 'ada');
    for (const text of ['first', 'second', 'third']) {
      await ada.getByTestId('composer').fill(text);
      await ada.getByTestId('composer').press('Enter');
    }
    await expect
      .poll(() => messages(ada).evaluateAll((els) => els.map((e) => e.dataset.status)))
      .toEqual(['sent', 'sent', 'sent']);
    await ada.getByTestId('new-session').click();
    await ada.getByTestId('composer').fill('12 * 7');
    await ada.getByTestId('composer').press('Enter');
    await ada.getByTestId('assistant-message').getByText('12 * 7 = 84.').waitFor();
    await ada.getByTestId('session-list').getByText('12 * 7').waitFor();

    const carl = await person(s.base, 'carl');
    const texts = () => carl.locator('[data-testid=message] .text').allTextContents();
    await expect.poll(texts).toEqual(['first', 'second', 'third']);

    await ada.reload();
    await ada.getByTestId('session-title').getByText('12 * 7').waitFor();
    await ada.getByTestId('assistant-message').getByText('12 * 7 = 84.').waitFor();
    await ada.getByTestId('session-list').getByText('12 * 7').waitFor();
    await ada.locator('[data-testid=room][data-room=lobby]').click();
    await expect.poll(() => messages(ada).count()).toBe(3);
  }, 30_000);

  it('survives a SIGKILL mid-reply: countdown banner, the reply completes once, an offline message is sent once', async () => {
    const first = await server();
    const ada = await person(first.base, 'ada');
    const bob = await person(first.base, 'bob');
    await ada.getByTestId('new-session').click();
    const question = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ');
    await ada.getByTestId('composer').fill(question);
    await ada.getByTestId('composer').press('Enter');
    const reply = ada.getByTestId('assistant-message');
    await expect.poll(async () => ((await reply.textContent()) ?? '').length, { timeout: 10_000 }).toBeGreaterThan(60);
    expect(await reply.getAttribute('data-status')).toBe('streaming');

    await first.stop('SIGKILL');
    const banner = ada.getByTestId('status-banner');
    await banner.getByText(/Reconnecting in \d s…/).waitFor({ timeout: 10_000 });
    await screenshot(ada, 'desktop-reconnecting');

    // Typed while the server is down: shown at once, pending.
    await ada.locator('[data-testid=room][data-room=lobby]').click();
    await ada.getByTestId('composer').fill('typed while the server was down');
    await ada.getByTestId('composer').press('Enter');
    const offline = messages(ada).filter({ hasText: 'typed while the server was down' });
    expect(await offline.getAttribute('data-status')).toBe('pending');

    const second = await server({ port: first.port, dataDir: first.dataDir });
    await ada
      .getByTestId('retry-now')
      .click({ timeout: 5000 })
      .catch(() => {}); // may already be back
    await expect.poll(() => offline.getAttribute('data-status'), { timeout: 10_000 }).toBe('sent');
    await banner
      .getByText('Back online')
      .waitFor({ timeout: 5000 })
      .catch(() => {});
    await messages(bob).filter({ hasText: 'typed while the server was down' }).waitFor({ timeout: 10_000 });
    await ada.goBack(); // back to the assistant session
    await expect.poll(() => reply.getAttribute('data-status'), { timeout: 15_000 }).toBe('done');
    expect((await reply.locator('.markdown').textContent())?.trim()).toBe(replyTo(question));

    // Exactly once: on bob's page and in what the server stored.
    expect(await messages(bob).filter({ hasText: 'typed while the server was down' }).count()).toBe(1);
    const db = new Database(join(second.dataDir, 'chat.db'), { readonly: true });
    try {
      const row = db
        .prepare("SELECT COUNT(*) AS n FROM room_messages WHERE text = 'typed while the server was down'")
        .get() as { n: number };
      expect(row.n).toBe(1);
    } finally {
      db.close();
    }
  }, 45_000);
});
