/**
 * The page's state from snapshots: each node's latest and its series, the cluster's sums
 * (latency: the worst node's) one point per snapshot of the page's own node, a node the broker no
 * longer lists dropped, and series capped at POINTS.
 */
import type { AdminNode, AdminSnapshot } from '@tether/server/admin';
import { describe, expect, it } from 'vitest';
import { Live, POINTS } from './live.js';

const node = (id: string): AdminNode => ({ id, address: `${id}:1`, broker: 'redis', startedAt: 0 });

function snapshot(id: string, at: number, over: Partial<AdminSnapshot> = {}): AdminSnapshot {
  return {
    node: node(id),
    at,
    interval: 1000,
    connections: 2,
    subscriptions: 3,
    rates: {
      publicationsIn: 10,
      publicationsOut: 20,
      bytesIn: 1,
      bytesOut: 2,
      framesIn: 0,
      framesOut: 0,
      rateLimited: 0,
      disconnects: 0,
      slowConsumers: 0,
    },
    latency: { p50: 1, p90: 2, p99: 3, count: 5 },
    totals: {
      connectionsAccepted: 0,
      publications: 0,
      deliveries: 0,
      framesIn: 0,
      framesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      rateLimited: 0,
      upgradeRejections: 0,
      disconnects: {},
    },
    channels: { total: 0, top: [] },
    connectionList: { total: 0, rows: [] },
    refused: [],
    ...over,
  };
}

function live(): Live {
  const l = new Live();
  l.session.value = { user: 'admin', node: node('a'), wsPath: '/ws', interval: 1000 };
  return l;
}

describe('the admin page state', () => {
  it('sums the nodes into the cluster series on each snapshot of its own node', () => {
    const l = live();
    const now = Date.now();
    l.ingest(snapshot('b', now, { latency: { p50: 4, p90: 5, p99: 9, count: 1 } }));
    expect(l.cluster.value.series.t).toHaveLength(0);
    l.ingest(snapshot('a', now, { nodes: [node('a'), node('b')] }));
    const s = l.cluster.value.series;
    expect(s.connections).toEqual([4]);
    expect(s.publicationsIn).toEqual([20]);
    expect(s.p99).toEqual([9]);
    expect(l.nodes.get('b')?.series.connections).toEqual([2]);
  });

  it('drops a node the broker no longer announces, and keeps at most POINTS per series', () => {
    const l = live();
    const now = Date.now();
    l.ingest(snapshot('b', now));
    for (let i = 0; i < POINTS + 5; i++) l.ingest(snapshot('a', now + i * 1000, { nodes: [node('a')] }));
    expect([...l.nodes.keys()]).toEqual(['a']);
    expect(l.nodes.get('a')?.series.t).toHaveLength(POINTS);
    expect(l.cluster.value.series.t).toHaveLength(POINTS);
    expect(l.cluster.value.series.t[0]).toBe((now + 5 * 1000) / 1000);
  });

  it('ignores what is not a snapshot', () => {
    const l = live();
    l.ingest({} as AdminSnapshot);
    l.ingest(null as unknown as AdminSnapshot);
    expect(l.nodes.size).toBe(0);
  });
});
