/**
 * The chat app through server kills and restarts, in Chromium against the real CLI: a reply cut
 * mid-stream (resumed, or marked interrupted with Retry), messages typed while the server is
 * down (pending, then sent once), and how soon the page is back after a long outage.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { INTERRUPTED } from '../server/assistant.js';
import { replyTo } from '../server/responder.js';
import { browserSuite, messages, poll } from './browser-suite.js';
import { startFakeOpenAi } from './fake-openai.js';
import { login, missing, screenshot, skipBrowser } from './harness.js';

if (skipBrowser) process.stdout.write(`skipping the chat app restart e2e tests: ${missing}\n`);

describe.skipIf(skipBrowser)('chat app in Chromium across server restarts', () => {
  const { server, person } = browserSuite();

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
});
