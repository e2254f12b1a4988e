/**
 * The chat app end to end: the web app built by Vite, the real `tether serve --plugin` in a
 * child process, headless Chromium (playwright-core). Skipped with a printed reason when
 * Chromium is missing, except under CI=true, where that fails. The server kills and restarts
 * are in e2e-restart.test.ts.
 */
import { createClient } from '@tether/client';
import { signToken } from '@tether/server';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { browserSuite, messages, poll } from './browser-suite.js';
import { FAST_REPLY, startFakeOpenAi } from './fake-openai.js';
import { login, missing, SECRET, screenshot, skipBrowser, watchConsole } from './harness.js';

if (skipBrowser) process.stdout.write(`skipping the chat app e2e tests: ${missing}\n`);

describe.skipIf(skipBrowser)('chat app in Chromium', () => {
  const { server, person, context: newContext } = browserSuite();

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

  it('works at 375 px: login, room, drawer, assistant and offline, one screenshot each', async () => {
    const s = await server();
    const context = await newContext(375);
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
