import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Broker, BrokerPublishOptions } from '@tether/broker';
import { recordEvents, runBrokerConformance, waitFor } from '@tether/broker/testing';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSqliteBroker, sqliteBroker } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tether-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runBrokerConformance('sqlite', ({ now }) => createSqliteBroker({ file: join(dir, `conformance-${n++}.db`), now }));

const opts = (over: Partial<BrokerPublishOptions> = {}): BrokerPublishOptions => ({
  historySize: 100,
  historyTtl: 60_000,
  dedupTtl: 60_000,
  ...over,
});

describe('createSqliteBroker durability', () => {
  const open: Broker[] = [];
  afterEach(async () => {
    for (const b of open.splice(0)) await b.close();
  });
  const start = async (file: string, now?: () => number): Promise<Broker> => {
    const b = createSqliteBroker(now ? { file, now } : { file });
    open.push(b);
    await b.start(recordEvents());
    return b;
  };

  it('keeps epoch, history, offsets and idempotency keys across a close and reopen', async () => {
    const file = join(dir, 'nested', 'folder', 'reopen.db');
    const first = await start(file);
    const a = await first.publish('room:a', { text: 'one' }, opts({ from: 'alice', key: 'k1' }));
    await first.publish('room:a', { text: 'two' }, opts());
    await first.close();

    const second = await start(file);
    const h = await second.history('room:a');
    expect(h.epoch).toBe(a.publication.epoch);
    expect(h.offset).toBe(2);
    expect(h.publications.map((p) => p.data)).toEqual([{ text: 'one' }, { text: 'two' }]);
    expect(h.publications[0]?.from).toBe('alice');
    const replay = await second.publish('room:a', { text: 'one again' }, opts({ key: 'k1' }));
    expect(replay).toEqual({ publication: a.publication, duplicate: true });
    const three = await second.publish('room:a', { text: 'three' }, opts());
    expect(three.publication).toMatchObject({ offset: 3, epoch: a.publication.epoch });
  });

  it('sweeps expired history and keys and forgets idle empty channels, but not subscribed ones', async () => {
    let t = 1_000_000;
    const file = join(dir, 'sweep.db');
    const b = createSqliteBroker({ file, now: () => t, sweepInterval: 20, idleChannelTtl: 1000 });
    open.push(b);
    await b.start(recordEvents());
    const gone = await b.publish('room:gone', 1, opts({ historyTtl: 100, dedupTtl: 100, key: 'x' }));
    const kept = await b.publish('room:kept', 1, opts({ historyTtl: 100, dedupTtl: 100 }));
    await b.subscribe('room:kept');
    t += 5000;
    // The sweep runs on its own timer; watch its effect through a second, read-only connection.
    const peek = new Database(file, { readonly: true });
    const count = (sql: string): number => (peek.prepare(sql).get() as { n: number }).n;
    try {
      await waitFor(
        () => count("SELECT count(*) AS n FROM channels WHERE name = 'room:gone'") === 0,
        3000,
        'the sweep to forget the idle channel',
      );
      expect(count('SELECT count(*) AS n FROM idempotency_keys')).toBe(0);
      expect(count('SELECT count(*) AS n FROM publications')).toBe(0);
      expect(count("SELECT count(*) AS n FROM channels WHERE name = 'room:kept'")).toBe(1);
    } finally {
      peek.close();
    }
    const again = await b.publish('room:gone', 2, opts());
    expect(again.publication.offset).toBe(1);
    expect(again.publication.epoch).not.toBe(gone.publication.epoch);
    const next = await b.publish('room:kept', 2, opts());
    expect(next.publication).toMatchObject({ offset: 2, epoch: kept.publication.epoch });
  });

  it('answers unavailable, not a crash, while another connection holds the write lock', async () => {
    const file = join(dir, 'locked.db');
    const b = createSqliteBroker({ file, busyTimeout: 50 });
    open.push(b);
    await b.start(recordEvents());
    await b.publish('room:a', 1, opts());
    const other = new Database(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      await expect(b.publish('room:a', 2, opts())).rejects.toMatchObject({
        name: 'BrokerUnavailableError',
        code: 'unavailable',
      });
      other.exec('COMMIT');
    } finally {
      other.close();
    }
    const next = await b.publish('room:a', 3, opts());
    expect(next.publication.offset).toBe(2);
  });

  it('rejects calls after close with BrokerUnavailableError and reports unavailable', async () => {
    const b = await start(join(dir, 'closed.db'));
    expect(b.available()).toBe(true);
    await b.close();
    expect(b.available()).toBe(false);
    await expect(b.publish('room:a', 1, opts())).rejects.toMatchObject({
      name: 'BrokerUnavailableError',
      code: 'unavailable',
    });
    await expect(b.history('room:a')).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('keeps sqliteBroker as an alias of createSqliteBroker', () => {
    expect(sqliteBroker).toBe(createSqliteBroker);
  });

  it('refuses a missing file option with a TypeError', () => {
    expect(() => createSqliteBroker({} as { file: string })).toThrow(TypeError);
  });
});

describe('createSqliteBroker native module', () => {
  it('names the rebuild command when better-sqlite3 cannot load its compiled module', async () => {
    const broker = createSqliteBroker({
      file: join(dir, 'native.db'),
      nativeBinding: join(dir, 'missing', 'better_sqlite3.node'),
    });
    const started = broker.start(recordEvents());
    await expect(started).rejects.toThrow(/native module did not load .*npm rebuild better-sqlite3/);
    await expect(started).rejects.toMatchObject({ cause: expect.any(Error) });
  });

  it('loads from an explicit nativeBinding path', async () => {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const binding = join(
      dirname(require.resolve('better-sqlite3/package.json')),
      'build',
      'Release',
      'better_sqlite3.node',
    );
    const broker = createSqliteBroker({ file: join(dir, 'native-ok.db'), nativeBinding: binding });
    await broker.start(recordEvents());
    const r = await broker.publish('room:n', { ok: true }, opts());
    expect(r.publication.offset).toBe(1);
    await broker.close();
  });
});
