// The presence list, paginated: `presence` with `limit` and `cursor` answers `{clients, next?}`
// in connection-id order, so following `next` returns every entry once however large the channel,
// and a command without `limit` (an older client) gets a bounded first page.
import { createMemoryPresence } from '@tether/broker';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from '../src/index.js';
import { API_KEY, cleanup, connectAs, RawClient, SECRET, startServer, type TestServer, token } from './helpers.js';

afterEach(cleanup);

type Entry = { user: string; connectionId: string };
type Page = { clients: Entry[]; next?: string };

/** Opens `n` subscribed connections on `channel` and resolves with them and their connection ids. */
async function crowd(server: TestServer, channel: string, n: number, from = 0): Promise<Map<string, RawClient>> {
  const out = new Map<string, RawClient>();
  // In batches: 1,000 handshakes at once would mostly measure the machine.
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, async (_, k) => {
        const c = await RawClient.connect(server.url, { token: await token(`u${from + i + k}`) });
        const welcome = await c.next('welcome');
        await c.ok({ type: 'subscribe', channel });
        return [welcome.connectionId as string, c] as const;
      }),
    );
    for (const [id, c] of batch) out.set(id, c);
  }
  return out;
}

/** Follows `next` from the first page; `between` runs after every page. */
async function walk(c: RawClient, channel: string, limit: number, between?: (n: number) => Promise<void>) {
  const seen: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < 10_000; n++) {
    const page = (await c.ok({ type: 'presence', channel, limit, ...(cursor && { cursor }) })) as unknown as Page;
    sizes.push(page.clients.length);
    seen.push(...page.clients.map((e) => e.connectionId));
    if (page.next === undefined) return { seen, sizes };
    cursor = page.next;
    await between?.(n);
  }
  throw new Error('the walk does not end');
}

describe('presence pages', () => {
  it('pages 1,000 present connections in pages of 100: each exactly once, in order, next absent on the last', async () => {
    const server = await startServer({ limits: { maxConnections: 2_000 } });
    const present = await crowd(server, 'room:thousand', 1_000);
    expect(present.size).toBe(1_000);
    const asker = present.values().next().value as RawClient;
    const { seen, sizes } = await walk(asker, 'room:thousand', 100);
    expect(sizes).toEqual(Array.from({ length: 10 }, () => 100));
    expect(new Set(seen).size).toBe(1_000);
    expect(new Set(seen)).toEqual(new Set(present.keys()));
    expect(seen).toEqual([...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }, 60_000);

  it('returns no entry twice and every connection present throughout, while others join and leave mid-walk', async () => {
    const server = await startServer();
    const stay = await crowd(server, 'room:churn', 150);
    const gone = await crowd(server, 'room:churn', 60, 1_000);
    const leaving = [...gone.values()];
    const ever = new Set([...stay.keys(), ...gone.keys()]);
    const asker = stay.values().next().value as RawClient;
    const { seen } = await walk(asker, 'room:churn', 25, async (n) => {
      // Three leave and three join between pages; ids are random, so on both sides of the cursor.
      for (const c of leaving.splice(0, 3)) c.terminate();
      for (const id of (await crowd(server, 'room:churn', 3, 2_000 + n * 3)).keys()) ever.add(id);
    });
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of stay.keys()) expect(seen).toContain(id);
    for (const id of seen) expect(ever.has(id)).toBe(true);
  }, 60_000);

  it('lowers limit to maxPresencePage, and answers a command without limit (an older client) with a bounded first page', async () => {
    const store = createMemoryPresence();
    // 100 pages from one connection: more than the default burst of frames.
    const server = await startServer({ presence: store, maxPresencePage: 50, limits: { messagesPerSecond: 1_000 } });
    const c = await connectAs(server, 'ann');
    await c.ok({ type: 'subscribe', channel: 'live:big' });
    // 5,000 entries at the store's level: what 5,000 connections on other nodes would be.
    for (let i = 0; i < 5_000; i++)
      await store.add('live:big', { user: `v${i}`, connectionId: `v${String(i).padStart(4, '0')}` }, 60_000);
    const old = (await c.ok({ type: 'presence', channel: 'live:big' })) as unknown as Page;
    expect(old.clients).toHaveLength(50);
    expect(old.next).toEqual(expect.any(String));
    const asked = (await c.ok({ type: 'presence', channel: 'live:big', limit: 100_000 })) as unknown as Page;
    expect(asked.clients).toEqual(old.clients);
    const small = (await c.ok({ type: 'presence', channel: 'live:big', limit: 7 })) as unknown as Page;
    expect(small.clients).toEqual(old.clients.slice(0, 7));
    const { seen, sizes } = await walk(c, 'live:big', 100_000);
    expect(sizes.length).toBe(101);
    expect(new Set(seen).size).toBe(5_001);
  }, 30_000);

  it('refuses a maxPresencePage that is not an integer >= 1', () => {
    for (const bad of [0, 2.5, Number.NaN])
      expect(() => createServer({ auth: { jwtSecret: SECRET }, maxPresencePage: bad })).toThrow(RangeError);
  });

  it('answers a bad cursor or limit with bad_request, and the connection lives on', async () => {
    const server = await startServer();
    const c = await connectAs(server, 'ann');
    await c.ok({ type: 'subscribe', channel: 'room:bad' });
    for (const bad of [
      { cursor: 'not a cursor!' },
      { cursor: 'YQ==' }, // base64 with padding: never what the server hands out
      { cursor: '_w' }, // one byte 0xff: not UTF-8
      { cursor: 17 },
      { cursor: '' },
      { limit: 0 },
      { limit: 'ten' },
    ]) {
      const r = await c.request({ type: 'presence', channel: 'room:bad', ...bad });
      expect(r).toMatchObject({ ok: false, error: { code: 'bad_request' } });
      expect((r.error as { message: string }).message).toMatch(/cursor|limit/);
    }
    const page = (await c.ok({ type: 'presence', channel: 'room:bad', limit: 1 })) as unknown as Page;
    expect(page.clients.map((e) => e.user)).toEqual(['ann']);
    expect(page.next).toBeUndefined();
  });

  it('pages GET /api/presence the same way', async () => {
    const store = createMemoryPresence();
    const server = await startServer({ presence: store, maxPresencePage: 3 });
    for (let i = 0; i < 7; i++) await store.add('room:h', { user: `u${i}`, connectionId: `c${i}` }, 60_000);
    const get = async (query: string) =>
      fetch(`${server.http}/api/presence?channel=room:h${query}`, { headers: { authorization: `Bearer ${API_KEY}` } });
    const first = (await (await get('')).json()) as Page;
    expect(first.clients.map((e) => e.connectionId)).toEqual(['c0', 'c1', 'c2']);
    const seen = [...first.clients];
    for (let cursor = first.next; cursor !== undefined; ) {
      const page = (await (await get(`&limit=50&cursor=${encodeURIComponent(cursor)}`)).json()) as Page;
      expect(page.clients.length).toBeLessThanOrEqual(3);
      seen.push(...page.clients);
      cursor = page.next;
    }
    expect(seen.map((e) => e.connectionId)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    expect(((await (await get('&limit=2')).json()) as Page).clients).toHaveLength(2);
    for (const bad of ['&cursor=!!', '&cursor=', '&limit=0', '&limit=x']) {
      const res = await get(bad);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'bad_request' } });
    }
  });
});
