/**
 * Two nodes on a real Redis, the admin page in real Chromium on one of them: the node picker
 * lists both (they announce themselves through the broker), each node's connections show under
 * its entry, a disconnect from the page reaches a client of the other node (and a refusal holds
 * there), and a node killed
 * with SIGKILL leaves the picker within its lease. Skips locally without Redis or Chromium;
 * fails under CI=true.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createRedisBroker } from '@tether/redis';
import { deleteKeys, REDIS_URL, redisUnreachable, reportUnreachable } from '@tether/redis/testing';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, cleanup, refusedStatus, SECRET, startServer, token, waitFor } from '../helpers.js';
import { buildPage, launch, login, screenshot, sdkClient, skipBrowser, type Watched } from './page-harness.js';

const unreachable = await redisUnreachable();
reportUnreachable(unreachable);
const PREFIX = `tether-admin-test:${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`;
const LEASE = 1_500;

let browser: Browser | undefined;
let pageDir = '';
const clients: Watched[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (skipBrowser || unreachable) return;
  [pageDir, browser] = await Promise.all([buildPage(), launch()]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  if (unreachable === undefined) await deleteKeys(PREFIX);
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.client.close();
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await cleanup();
});

/** The second node, in its own process. */
async function otherNode(): Promise<{ url: string; id: string; child: ChildProcess }> {
  const script = fileURLToPath(new URL('./admin-node.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script], {
    env: { ...process.env, REDIS_URL, REDIS_PREFIX: PREFIX, JWT_SECRET: SECRET, API_KEY, ADMIN_LEASE: String(LEASE) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`node B did not start within 20 s:\n${stderr}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      resolve(out.split('\n')[0] as string);
    });
    child.once('exit', () => reject(new Error(`node B exited:\n${stderr}`)));
  });
  const { port, node } = JSON.parse(first) as { port: number; node: string };
  return { url: `ws://127.0.0.1:${port}/ws`, id: node, child };
}

const options = (page: Page) => page.getByTestId('node-picker').locator('option');
const users = async (page: Page): Promise<string[]> =>
  (await page.getByTestId('connection-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-user') ?? '')))
    .filter((u) => u !== 'admin')
    .sort();

describe.skipIf(skipBrowser || unreachable !== undefined)('the admin page on two nodes sharing Redis', () => {
  it("lists both nodes and each node's connections; a dead node leaves within its lease", async () => {
    const a = await startServer({
      broker: createRedisBroker({ url: REDIS_URL, prefix: PREFIX }),
      admin: { page: pageDir, interval: 200, lease: LEASE },
    });
    const b = await otherNode();
    const anna = sdkClient(a.url, await token('anna'));
    const bert = sdkClient(b.url, await token('bert'));
    clients.push(anna, bert);
    await Promise.all([anna.client.connect(), bert.client.connect()]);

    const page = await login(browser as Browser, a.http, API_KEY);
    await waitFor(async () => (await options(page).count()) === 3, 10_000, 'All nodes + 2 nodes in the picker');
    const values = await options(page).evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(values).toContain(b.id);
    const idA = values.find((v) => v !== 'all' && v !== b.id) as string;
    await waitFor(async () => (await users(page)).join() === 'anna,bert', 10_000, 'both users under All nodes');
    await screenshot(page, 'admin-cluster-all');

    await page.getByTestId('node-picker').selectOption(b.id);
    await waitFor(async () => (await users(page)).join() === 'bert', 5_000, "node B's connections only");
    await page.getByTestId('node-picker').selectOption(idA);
    await waitFor(async () => (await users(page)).join() === 'anna', 5_000, "node A's connections only");

    // An action from node A's page reaches the client on node B, through the broker.
    await page.getByTestId('node-picker').selectOption('all');
    await page.locator('[data-testid="connection-row"][data-user="bert"]').getByTestId('disconnect').click();
    await waitFor(() => bert.closes.length === 1, 5_000, 'bert to be disconnected');
    expect(bert.closes[0]?.code).toBe(1008);

    // A refusal sent to node A holds on node B too.
    const res = await fetch(`${a.http}/api/admin/disconnect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'bert', refuseFor: '1m' }),
    });
    expect(res.status).toBe(200);
    await waitFor(
      async () =>
        (await refusedStatus(`${b.url}?token=${await token('bert')}`, { protocols: ['tether.v1'] })).status === 403,
      5_000,
      'node B to refuse bert',
    );

    bert.client.close();
    b.child.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(async () => (await options(page).count()) === 2, LEASE + 3_000, 'the dead node to leave the picker');
    // Gone within its lease (plus one snapshot interval and the page's clock).
    expect(Date.now() - killedAt).toBeLessThan(LEASE + 1_000);
    await screenshot(page, 'admin-cluster-after-kill');
  });
});
