/**
 * A real server process on the SQLite broker, killed with SIGKILL and restarted on the same
 * file: every publication acknowledged before the kill is recovered, in the same epoch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Publication } from '@tether/broker';
import { waitFor } from '@tether/broker/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { closeClients, httpPublish, RawClient, startNode, stopNodes } from './fixtures/cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'tether-cluster-sqlite-'));
afterEach(async () => {
  closeClients();
  await stopNodes();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('recovers everything acknowledged before a SIGKILL after a restart on the same file', async () => {
  const env = { NODE_BROKER: 'sqlite', SQLITE_FILE: join(dir, 'data', 'tether.db') };
  const first = await startNode(env);
  const channel = 'room:durable';
  const writer = await RawClient.connect(first.url, 'ann');
  const subscribed = await writer.request({ type: 'subscribe', channel });
  expect(subscribed.ok).toBe(true);
  const epoch = (subscribed.result as { epoch: string }).epoch;
  const acked: number[] = [];
  for (let k = 1; k <= 30; k++) {
    const reply = await writer.request({ type: 'publish', channel, data: { k, via: 'ws' } });
    expect(reply.ok).toBe(true);
    acked.push((reply.result as { offset: number }).offset);
  }
  for (let k = 31; k <= 40; k++) {
    const res = await httpPublish(first.http, channel, { k, via: 'http' }, `key-${k}`);
    expect(res.status).toBe(200);
    acked.push(res.body.offset as number);
  }
  // Killed the instant the last acknowledgement arrived: no drain, no close, no checkpoint.
  await first.kill('SIGKILL');

  const second = await startNode(env);
  const client = await RawClient.connect(second.url, 'ann');
  const reply = await client.request({ type: 'subscribe', channel, since: { offset: 0, epoch } });
  expect(reply.ok).toBe(true);
  const result = reply.result as { epoch: string; offset: number; recovered: boolean; publications: Publication[] };
  expect(result).toMatchObject({ epoch, offset: 40, recovered: true });
  expect(result.publications.map((p) => p.offset)).toEqual(acked);
  expect(result.publications.map((p) => (p.data as { k: number }).k)).toEqual(acked);
  expect(result.publications[0]?.from).toBe('ann');

  // Offsets continue, and a key acknowledged before the kill still deduplicates.
  const replay = await httpPublish(second.http, channel, { k: 40, via: 'http' }, 'key-40');
  expect(replay.body).toEqual({ offset: 40, epoch });
  const next = await httpPublish(second.http, channel, { k: 41 });
  expect(next.body).toEqual({ offset: 41, epoch });
});

it('keeps every acknowledged publication when killed in the middle of concurrent publishing', async () => {
  const env = { NODE_BROKER: 'sqlite', SQLITE_FILE: join(dir, 'midflight.db') };
  const node = await startNode(env);
  const channel = 'room:midflight';
  const acked = new Map<number, number>();
  let killed = false;
  const publisher = async (w: number): Promise<void> => {
    for (let k = 0; !killed; k++) {
      const res = await httpPublish(node.http, channel, { w, k }).catch(() => undefined);
      if (!res) return; // the connection died with the process: no acknowledgement, no promise
      expect(res.status).toBe(200);
      acked.set(res.body.offset as number, w * 1_000_000 + k);
    }
  };
  const publishers = [0, 1, 2, 3].map(publisher);
  await waitFor(() => acked.size >= 60, 10_000, 'publications before the kill');
  killed = true;
  await node.kill('SIGKILL');
  await Promise.all(publishers);

  const again = await startNode(env);
  const history = await fetch(`${again.http}/api/history?channel=${channel}`, {
    headers: { authorization: 'Bearer cluster-test-api-key' },
  });
  const { publications } = (await history.json()) as { publications: Publication[] };
  const recovered = new Map(publications.map((p) => [p.offset, p.data as { w: number; k: number }]));
  // Contiguous from 1: nothing committed was torn out of the middle.
  expect(publications.map((p) => p.offset)).toEqual(publications.map((_, i) => i + 1));
  for (const [offset, id] of acked) {
    const data = recovered.get(offset);
    expect(data, `acknowledged offset ${offset} missing after the restart`).toBeDefined();
    expect((data?.w ?? -1) * 1_000_000 + (data?.k ?? -1)).toBe(id);
  }
});
