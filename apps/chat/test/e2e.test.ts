/**
 * The chat app end to end: the web app built by Vite, the real `tether serve --plugin` in a
 * child process, headless Chromium (playwright-core). Skipped with a printed reason when
 * Chromium is missing, except under CI=true, where that fails.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient } from '@tether/client';
import { signToken } from '@tether/server';
import Database from 'better-sqlite3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { INTERRUPTED } from '../server/assistant.js';
import { replyTo } from '../server/responder.js';
import { FAST_REPLY, startFakeOpenAi } from './fake-openai.js';
import {
  buildApp,
  launch,
  login,
  missing,
  SECRET,
  type ServerProcess,
  screenshot,
  skipBrowser,
  startServer,
  watchConsole,
} from './harness.js';

/** Waits for a condition the page reaches on its own (a stream, a reconnect): up to 10 s. */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 10_000, interval: 50 });

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
    // The header shows the round trip once it is measured.
    await poll(() => ada.getByTestId('connection').textContent()).toMatch(/^Connected · \d+ ms$/);

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
    await poll(() => ada.getByTestId('typing').textContent()).toBe('');
    await poll(() => messages(bob).last().getAttribute('data-status')).toBe('sent');
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
    await poll(() => unread.textContent().catch(() => '')).toBe('2');
    expect(await ada.title()).toBe('(2) Tether chat');

    // The mention raised a toast; it jumps to the room, which clears the count.
    const toast = ada.getByTestId('toast');
    await toast.getByText('bob mentioned you in #lobby').waitFor();
    await toast.getByRole('button', { name: 'Open #lobby' }).click();
    await ada.getByRole('heading', { name: '#lobby' }).waitFor();
    await messages(ada).filter({ hasText: '@ada look at this' }).waitFor();
    expect(await unread.count()).toBe(0);
    await poll(() => ada.title()).toBe('Tether chat');
    expect(await messages(ada).count()).toBe(3);
    await screenshot(ada, 'desktop-room');
    expect(problems).toEqual([]);
  }, 30_000);

  it('a newcomer sees the recent history; a reload shows the same messages and session list', async () => {
    const s = await server();
    const ada = await person(s.base, 'ada');
    for (const text of ['first', 'second', 'third']) {
      await ada.getByTestId('composer').fill(text);
      await ada.getByTestId('composer').press('Enter');
    }
    await poll(() => messages(ada).evaluateAll((els) => els.map((e) => e.dataset.status))).toEqual([
      'sent',
      'sent',
      'sent',
    ]);
    await ada.getByTestId('new-session').click();
    await ada.getByTestId('composer').fill('12 * 7');
    await ada.getByTestId('composer').press('Enter');
    await ada.getByTestId('assistant-message').getByText('12 * 7 = 84.').waitFor();
    await ada.getByTestId('session-list').getByText('12 * 7').waitFor();

    const carl = await person(s.base, 'carl');
    const texts = () => carl.locator('[data-testid=message] .text').allTextContents();
    await poll(texts).toEqual(['first', 'second', 'third']);

    await ada.reload();
    await ada.getByTestId('session-title').getByText('12 * 7').waitFor();
    await ada.getByTestId('assistant-message').getByText('12 * 7 = 84.').waitFor();
    await ada.getByTestId('session-list').getByText('12 * 7').waitFor();
    await ada.locator('[data-testid=room][data-room=lobby]').click();
    await poll(() => messages(ada).count()).toBe(3);

    // A room with more than a page: the newest 50 first (from the channel's history), the rest
    // from chat.db when scrolled to the top.
    const dan = createClient({
      url: `ws://127.0.0.1:${s.port}/ws`,
      token: () => signToken(SECRET, { user: 'dan' }),
      WebSocket,
    });
    try {
      await dan.connect();
      await dan.rpc('rooms.create', { name: 'archive' });
      for (let i = 1; i <= 60; i++) await dan.rpc('room.send', { room: 'archive', key: `a${i}`, text: `note ${i}` });
    } finally {
      dan.close();
    }
    await carl.locator('[data-testid=room][data-room=archive]').click();
    await poll(() => messages(carl).count()).toBe(50);
    expect(await messages(carl).first().locator('.text').textContent()).toBe('note 11');
    // The button is there for the keyboard; scrolling up to the top loads the page before too.
    await carl.getByRole('button', { name: 'Load earlier messages' }).waitFor();
    await carl.locator('.room-view .scroll').evaluate((el) => el.scrollTo({ top: 0 }));
    await poll(() => messages(carl).count()).toBe(60);
    expect(await messages(carl).first().locator('.text').textContent()).toBe('note 1');
    expect(await carl.getByRole('button', { name: 'Load earlier messages' }).count()).toBe(0);
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
    await poll(async () => ((await reply.textContent()) ?? '').length).toBeGreaterThan(60);
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
    await poll(() => offline.getAttribute('data-status')).toBe('sent');
    await banner
      .getByText('Back online')
      .waitFor({ timeout: 5000 })
      .catch(() => {});
    await messages(bob).filter({ hasText: 'typed while the server was down' }).waitFor({ timeout: 10_000 });
    await ada.goBack(); // back to the assistant session
    await poll(() => reply.getAttribute('data-status')).toBe('done');
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

  it('a message typed offline outlives its tab: another tab of the same person shows it pending and sends it once', async () => {
    const first = await server();
    const a = await person(first.base, 'ada');
    const context = a.context();
    const b = await context.newPage();
    await login(b, first.base, 'ada');
    await first.stop('SIGKILL');
    await a
      .getByTestId('status-banner')
      .getByText(/Reconnecting/)
      .waitFor({ timeout: 10_000 });
    await a.getByTestId('composer').fill('written in a tab that was then closed');
    await a.getByTestId('composer').press('Enter');
    // The other tab sees it waiting too (one outbox per person, in localStorage), then the first closes.
    const inB = messages(b).filter({ hasText: 'written in a tab that was then closed' });
    await poll(() => inB.getAttribute('data-status', { timeout: 500 }).catch(() => null)).toBe('pending');
    await a.close();

    const second = await server({ port: first.port, dataDir: first.dataDir });
    await poll(() => inB.getAttribute('data-status')).toBe('sent');
    const db = new Database(join(second.dataDir, 'chat.db'), { readonly: true });
    try {
      const row = db
        .prepare("SELECT COUNT(*) AS n FROM room_messages WHERE text = 'written in a tab that was then closed'")
        .get() as { n: number };
      expect(row.n).toBe(1);
    } finally {
      db.close();
    }
    expect(await inB.count()).toBe(1);
  }, 45_000);

  it('after a restart-length outage (20 s) the page is connected again within seconds of the server', async () => {
    const first = await server();
    const ada = await person(first.base, 'ada');
    await first.stop('SIGKILL');
    await ada
      .getByTestId('status-banner')
      .getByText(/Reconnecting/)
      .waitFor({ timeout: 10_000 });
    // The outage is the input of this test, not a synchronisation: a restart of about 20 s, long
    // enough for a default backoff (30 s cap) to be waiting far longer than the app's 2 s.
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    await server({ port: first.port, dataDir: first.dataDir });
    const back = Date.now();
    await ada.getByTestId('connection').getByText('Connected').waitFor({ timeout: 10_000 });
    // At most 2 s to the next attempt, plus a token and a handshake on a busy machine.
    expect(Date.now() - back).toBeLessThan(4000);
  }, 60_000);

  it('the openai responder streams from an OpenAI-compatible endpoint; Stop aborts the upstream request', async () => {
    const fake = await startFakeOpenAi();
    try {
      const s = await server({
        env: {
          TETHER_OPENAI_BASE_URL: fake.baseUrl,
          TETHER_OPENAI_API_KEY: 'test-key',
          TETHER_OPENAI_MODEL: 'fake-model',
        },
      });
      const ada = await person(s.base, 'ada');
      await ada.getByTestId('new-session').click();
      await ada.getByTestId('composer').fill('hello model');
      await ada.getByTestId('composer').press('Enter');
      const reply = ada.getByTestId('assistant-message').last();
      await poll(() => reply.getAttribute('data-status')).toBe('done');
      // Rendered Markdown, never raw text.
      expect(await reply.locator('.markdown strong').textContent()).toBe('bold');
      expect(await reply.locator('.markdown li').allTextContents()).toEqual(['one', 'two']);
      await ada.getByTestId('session-title').getByText('Fake title').waitFor();
      const asked = fake.requests[0];
      expect(asked?.authorization).toBe('Bearer test-key');
      expect(asked?.body).toMatchObject({ model: 'fake-model', stream: true });
      expect(asked?.body.messages?.at(-1)).toEqual({ role: 'user', content: 'hello model' });
      expect(FAST_REPLY.join('')).toContain('**bold**');

      // A long answer, stopped: the endpoint sees its connection closed.
      const closed = fake.nextAbort();
      await ada.getByTestId('composer').fill('slow please');
      await ada.getByTestId('composer').press('Enter');
      await poll(async () => (await reply.textContent()) ?? '').toContain('word3');
      await ada.getByTestId('stop').click();
      await Promise.race([
        closed,
        new Promise((_, reject) => setTimeout(() => reject(new Error('upstream was not aborted')), 5000)),
      ]);
      await poll(() => reply.getAttribute('data-status')).toBe('cancelled');
      const stoppedAt = (await reply.textContent()) ?? '';
      expect(stoppedAt).not.toContain('word399');

      // An upstream error becomes a message a person can read, with Retry.
      await ada.getByTestId('composer').fill('fail now');
      await ada.getByTestId('composer').press('Enter');
      await poll(() => reply.getAttribute('data-status')).toBe('error');
      await reply.getByText('The model server answered 401: Incorrect API key provided').waitFor();
      await reply.getByTestId('retry').waitFor();
      await screenshot(ada, 'desktop-assistant');
      expect(fake.aborted()).toBe(1);
    } finally {
      await fake.close();
    }
  }, 30_000);

  it('a model reply cut by a SIGKILL is marked interrupted after the restart, and Retry asks again', async () => {
    const fake = await startFakeOpenAi();
    try {
      const env = { TETHER_OPENAI_BASE_URL: fake.baseUrl, TETHER_OPENAI_MODEL: 'fake-model' };
      const first = await server({ env });
      const ada = await person(first.base, 'ada');
      await ada.getByTestId('new-session').click();
      await ada.getByTestId('composer').fill('slow once please');
      await ada.getByTestId('composer').press('Enter');
      const reply = ada.getByTestId('assistant-message');
      await poll(async () => (await reply.textContent()) ?? '').toContain('word3');
      await first.stop('SIGKILL');
      await server({ env, port: first.port, dataDir: first.dataDir });

      await poll(() => reply.getAttribute('data-status')).toBe('error');
      await reply.getByText(INTERRUPTED).waitFor();
      await reply.getByTestId('retry').click();
      await poll(() => reply.getAttribute('data-status')).toBe('done');
      expect(await reply.locator('.markdown strong').textContent()).toBe('bold');
      // The retried exchange replaced the interrupted one, here and on the server.
      await ada.reload();
      await poll(() => reply.getAttribute('data-status')).toBe('done');
      expect(await ada.locator('.message.user').count()).toBe(1);
      expect(await reply.count()).toBe(1);
    } finally {
      await fake.close();
    }
  }, 30_000);

  it('works at 375 px: login, room, drawer, assistant and offline, one screenshot each', async () => {
    const s = await server();
    const context = await browser.newContext({ viewport: { width: 375, height: 740 }, deviceScaleFactor: 1 });
    contexts.push(context);
    const page = await context.newPage();
    const problems = watchConsole(page);
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    // Every bubble starts below the one before it: none overlaps, however long the conversation.
    const stacked = () =>
      page
        .locator('.message')
        .evaluateAll((els) =>
          els.every(
            (el, i) =>
              i === 0 || (els[i - 1] as Element).getBoundingClientRect().bottom <= el.getBoundingClientRect().top,
          ),
        );
    await page.goto(s.base);
    await page.getByTestId('login-name').waitFor();
    await screenshot(page, 'mobile-login');
    await login(page, s.base, 'ada');

    const bob = await person(s.base, 'bob');
    await bob.getByTestId('composer').fill(`@ada a long line without spaces: ${'x'.repeat(120)}`);
    await bob.getByTestId('composer').press('Enter');
    await page.getByTestId('composer').fill('A reply of mine\nover two lines');
    await page.getByTestId('composer').press('Enter');
    await poll(() => page.getByTestId('message').count()).toBe(2);
    await page.getByTestId('toast').waitFor();
    // The mention of the reader is highlighted, and visible at phone width too.
    expect(await page.getByTestId('message').first().locator('mark').isVisible()).toBe(true);
    // Ada is in #lobby already: the toast offers no button to open it.
    expect(await page.getByTestId('toast').getByRole('button', { name: 'Open #lobby' }).count()).toBe(0);
    expect(await fits()).toBe(true);
    expect(await stacked()).toBe(true);
    await screenshot(page, 'mobile-room');
    await page.getByTestId('toast').getByRole('button', { name: 'Dismiss' }).click();

    // The lists live in a drawer: opened by the menu button, closed by Escape, focus returns.
    const menu = page.getByRole('button', { name: 'Rooms and chats' });
    expect(await page.getByTestId('room-list').isVisible()).toBe(false);
    await menu.click();
    await page.getByTestId('room-list').waitFor({ state: 'visible' });
    // Fully slid in (the drawer animates for 0.2 s).
    await poll(async () => (await page.locator('#sidebar').boundingBox())?.x).toBe(0);
    await screenshot(page, 'mobile-drawer');
    await page.keyboard.press('Escape');
    await page.getByTestId('room-list').waitFor({ state: 'hidden' });
    expect(await menu.evaluate((el) => el === document.activeElement)).toBe(true);

    await menu.click();
    await page.getByTestId('new-session').click();
    const reply = page.getByTestId('assistant-message').last();
    for (const question of ['12 * 7', 'hello', 'help']) {
      await page.getByTestId('composer').fill(question);
      await page.keyboard.press('Enter');
      await poll(() => reply.getAttribute('data-status')).toBe('done');
    }
    expect(await reply.locator('.markdown li').count()).toBe(3);
    expect(await page.getByTestId('assistant-message').count()).toBe(3);
    expect(await fits()).toBe(true);
    expect(await stacked()).toBe(true);
    await screenshot(page, 'mobile-assistant');

    await context.setOffline(true);
    await page.getByTestId('status-banner').getByText('you are offline').waitFor();
    await screenshot(page, 'mobile-offline');
    await context.setOffline(false);
    await page.getByTestId('status-banner').getByText('Back online').waitFor({ timeout: 10_000 });
    expect(problems).toEqual([]);
  }, 30_000);
});
