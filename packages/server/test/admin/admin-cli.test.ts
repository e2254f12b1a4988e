/**
 * `tether serve --admin` (and TETHER_ADMIN=1): on only when asked, and never without a way to
 * authenticate operators — the real CLI process exits 1 naming what is missing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { serveOptions } from '../../src/cli.js';

const logger = pino({ level: 'silent' });
const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

function clean(): void {
  for (const key of Object.keys(process.env)) if (key.startsWith('TETHER_')) delete process.env[key];
  process.env.TETHER_BROKER = 'memory';
}

describe('tether serve --admin', () => {
  it('is off by default and on with --admin or TETHER_ADMIN=1 when operators can authenticate', async () => {
    clean();
    process.env.TETHER_JWT_SECRET = 'a-secret-for-admin-tokens-0123456789';
    expect((await serveOptions({}, logger)).admin).toBeUndefined();
    expect((await serveOptions({ admin: true }, logger)).admin).toBe(true);
    process.env.TETHER_ADMIN = '1';
    expect((await serveOptions({}, logger)).admin).toBe(true);
    delete process.env.TETHER_JWT_SECRET;
    process.env.TETHER_API_KEY = 'an-operator-key';
    expect((await serveOptions({}, logger)).admin).toBe(true);
  });

  it("takes the dashboard's settings from the config file's admin key, which alone does not turn it on", async () => {
    clean();
    process.env.TETHER_API_KEY = 'an-operator-key';
    const config = join(await mkdtemp(join(tmpdir(), 'tether-admin-cli-')), 'tether.json');
    await writeFile(config, JSON.stringify({ admin: { page: false, interval: '2s', lease: '30s' } }));
    process.env.TETHER_CONFIG = config;
    expect((await serveOptions({}, logger)).admin).toBeUndefined();
    expect((await serveOptions({ admin: true }, logger)).admin).toEqual({ page: false, interval: '2s', lease: '30s' });
  });

  it('refuses --admin when the only secret is a generated one (nobody could log in)', async () => {
    clean();
    await expect(serveOptions({ admin: true }, logger)).rejects.toThrow(/--admin needs a way to authenticate/);
  });

  it('the CLI process exits 1 with --admin and no API key or JWT key', async () => {
    const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TETHER_') && v !== undefined) env[k] = v;
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', cli, 'serve', '--admin', '--host', '127.0.0.1', '--port', '0'],
      { env: { ...env, TETHER_BROKER: 'memory' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(output).toMatch(/--admin needs a way to authenticate operators/);
    expect(output).not.toMatch(/listening/);
  });
});
