/**
 * `@tether/redis/testing`: what tests that need Redis share (this package's and the server's
 * multi-node tests). Where Redis is, a key prefix unique to this run, whether Redis answers (tests
 * skip with a printed reason when it does not, and fail under CI=true), removal of this run's
 * keys — never anyone else's — and a private `redis-server` for tests that must stop and restart
 * Redis: the shared one at REDIS_URL belongs to everybody and is never stopped.
 *
 * Test-only entry: it imports `vitest` (4.x), which whoever runs the tests installs as a dev
 * dependency. It is deliberately not a dependency of this package, not even an optional peer, so
 * that installing the package brings no test tooling into a production tree.
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { it } from 'vitest';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PREFIX = `tether-test:${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`;

/** Undefined when Redis answers PING; otherwise why it does not. */
export async function redisUnreachable(url = REDIS_URL): Promise<string | undefined> {
  const client = createClient({ url, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return `Redis unreachable at ${url}: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/**
 * Prints why the Redis tests are skipped; under CI=true registers a failing test instead,
 * because CI promised a Redis service.
 */
export function reportUnreachable(reason: string | undefined): void {
  if (reason === undefined) return;
  if (process.env.CI === 'true') {
    it('has a reachable Redis (required under CI=true)', () => {
      throw new Error(reason);
    });
  } else {
    process.stderr.write(`[@tether/redis tests] skipped: ${reason}\n`);
  }
}

/** Deletes every key under `prefix` (SCAN, never FLUSHALL). */
export async function deleteKeys(prefix = PREFIX, url = REDIS_URL): Promise<number> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  let deleted = 0;
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) deleted += await client.del(keys);
    }
  } finally {
    client.destroy();
  }
  return deleted;
}

/** Undefined when `redis-server` can be run here; otherwise why not. */
export function redisServerMissing(): string | undefined {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : 'redis-server is not installed (apt-get install redis-server)';
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PrivateRedis {
  url: string;
  /** Kills the process with SIGKILL (as a crash would) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data folder; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Kills it and removes its data folder. */
  dispose(): Promise<void>;
}

/**
 * Starts a private `redis-server` on a free loopback port, killed by PID. Persistence is on by
 * default (AOF, fsync always), as in a deployment that promises not to lose acknowledged publications.
 * @param persist AOF with fsync on every write (default), or no persistence at all: a restart then comes back empty.
 */
export async function startPrivateRedis(persist = true): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tether-redis-'));
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const proc = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir],
        ...(persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 5000);
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${out}`));
      });
    });
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: start,
    async dispose() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Prints why the outage tests are skipped; under CI=true registers a failing test instead,
 * because CI installs redis-server.
 */
export function reportServerMissing(reason: string | undefined, what: string): void {
  if (reason === undefined) return;
  if (process.env.CI === 'true') {
    it('can run redis-server (required under CI=true)', () => {
      throw new Error(reason);
    });
  } else {
    process.stderr.write(`[${what}] Redis outage tests skipped: ${reason}\n`);
  }
}
