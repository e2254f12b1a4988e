/**
 * End-to-end plumbing: the web app built by Vite into a temp directory, the real `tether serve`
 * CLI in a child process with the chat plugin (so a test can SIGKILL it and start it again on
 * the same port and data directory), and headless Chromium.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import type { Page } from 'playwright-core';
import { build, defaultClientConditions } from 'vite';

/**
 * Chromium is found, skipped and launched one way for every package: `missing` says why it can't
 * be launched, `skipBrowser` is true when the browser tests must be skipped (printed once by the
 * caller; under CI=true they never are), `launch()` throws there instead.
 */
export {
  chromiumMissing as missing,
  launchChromium as launch,
  skipChromium as skipBrowser,
} from '@tether/test-browser';

const root = fileURLToPath(new URL('../../..', import.meta.url));
export const SECRET = 'chat-e2e-secret-of-a-decent-length-0123456789';
export const API_KEY = 'chat-e2e-api-key-0123456789';
export const ARTIFACTS = fileURLToPath(new URL('../e2e-artifacts', import.meta.url));

export async function buildApp(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'tether-chat-web-'));
  await build({
    configFile: false,
    logLevel: 'silent',
    root: fileURLToPath(new URL('../web', import.meta.url)),
    plugins: [vue()],
    // Workspace packages from source: the test needs no prior `npm run build`.
    resolve: { conditions: ['source', ...defaultClientConditions] },
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  port: number;
  base: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout. */
  output: () => string;
  /** Sends `signal` and resolves once the process is gone. */
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** Starts `tether serve --plugin <chat>`; resolves once it printed the first-run line. */
export async function startServer(opts: {
  staticDir?: string;
  dataDir?: string;
  port?: number;
  env?: Record<string, string>;
}): Promise<ServerProcess> {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'tether-chat-data-')));
  await mkdir(dataDir, { recursive: true });
  const args = [
    '--conditions=source',
    '--import',
    'tsx',
    join(root, 'packages/server/src/cli.ts'),
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--dev',
    '--jwt-secret',
    SECRET,
    '--api-key',
    API_KEY,
    ...(opts.staticDir ? ['--static', opts.staticDir] : []),
    '--plugin',
    join(root, 'apps/chat/server/responders.ts'),
    '--data-dir',
    dataDir,
    '--log-level',
    'warn',
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, TETHER_CHAT_CHUNK_DELAY: '25', ...opts.env, NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = `Tether chat: open http://localhost:${port}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 20 s:\n${out}\n${err}`)), 20_000);
    const check = (): void => {
      if (out.includes(line)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    void gone.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited before it listened:\n${out}\n${err}`));
    });
  });
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    dataDir,
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await gone;
    },
  };
}

/** Logs in on the login screen and waits for the connection. */
export async function login(page: Page, base: string, name: string, hash = ''): Promise<void> {
  await page.goto(`${base}/${hash}`);
  await page.getByTestId('login-name').fill(name);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('connection').getByText('Connected').waitFor({ timeout: 10_000 });
}

/** Collects what a person would see in the devtools console as a problem: errors and failed requests. */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return problems;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}
