/**
 * Shared set-up of the Redis tests: where Redis is, a key prefix unique to this run, whether
 * Redis answers (tests skip with a printed reason when it does not, and fail under CI=true),
 * and removal of this run's keys — never anyone else's.
 */
import { randomBytes } from 'node:crypto';
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
    console.warn(`[@tether/redis tests] skipped: ${reason}`);
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
