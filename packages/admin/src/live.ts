/**
 * The page's live state: one Tether connection (the login cookie authenticates it, `?admin=1`),
 * one subscription to the stats channel, and what arrived on it — every node's latest snapshot
 * and a short series per figure for the charts. Nothing is polled: the server publishes while
 * this page watches, and stops when it leaves.
 * @module
 */
import { createClient, type TetherClient } from '@tether/client';
import { type AdminNode, type AdminSession, type AdminSnapshot, STATS_CHANNEL } from '@tether/server/admin';
import { shallowReactive, shallowRef } from 'vue';
import { session as fetchSession } from './api.js';

/** Points kept per series (two minutes at the default interval of 1 s). */
export const POINTS = 120;
/** A node whose snapshots stop for this many intervals is shown as silent. */
const SILENT_AFTER = 4;

export const FIGURES = [
  'connections',
  'subscriptions',
  'publicationsIn',
  'publicationsOut',
  'bytesIn',
  'bytesOut',
  'disconnects',
  'slowConsumers',
  'rateLimited',
  'p50',
  'p99',
] as const;
export type Figure = (typeof FIGURES)[number];

/** Time (s) and one array per figure, oldest first; `null` where a figure was not measured. */
export type Series = { t: number[] } & Record<Figure, (number | null)[]>;

const emptySeries = (): Series => {
  const s = { t: [] } as unknown as Series;
  for (const f of FIGURES) s[f] = [];
  return s;
};

export interface NodeView {
  node: AdminNode;
  last: AdminSnapshot;
  /** `Date.now()` when the last snapshot arrived. */
  seen: number;
  series: Series;
}

/** The charted figures of one snapshot. */
export function figuresOf(s: AdminSnapshot): Record<Figure, number | null> {
  const r = s.rates;
  return {
    connections: s.connections,
    subscriptions: s.subscriptions,
    publicationsIn: r?.publicationsIn ?? null,
    publicationsOut: r?.publicationsOut ?? null,
    bytesIn: r?.bytesIn ?? null,
    bytesOut: r?.bytesOut ?? null,
    disconnects: r?.disconnects ?? null,
    slowConsumers: r?.slowConsumers ?? null,
    rateLimited: r?.rateLimited ?? null,
    p50: s.latency?.p50 ?? null,
    p99: s.latency?.p99 ?? null,
  };
}

function push(series: Series, at: number, values: Record<Figure, number | null>): void {
  series.t.push(at / 1000);
  for (const f of FIGURES) series[f].push(values[f]);
  if (series.t.length > POINTS) {
    series.t.shift();
    for (const f of FIGURES) series[f].shift();
  }
}

/** The figures of several nodes' latest snapshots: sums, and the worst node's latency. */
export function combine(views: NodeView[]): Record<Figure, number | null> {
  const out = {} as Record<Figure, number | null>;
  for (const f of FIGURES) {
    let v: number | null = null;
    for (const n of views) {
      const x = figuresOf(n.last)[f];
      if (x === null) continue;
      v = f === 'p50' || f === 'p99' ? Math.max(v ?? 0, x) : (v ?? 0) + x;
    }
    out[f] = v;
  }
  return out;
}

export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export class Live {
  readonly session = shallowRef<AdminSession>();
  readonly link = shallowRef<LinkState>('connecting');
  /** Node id → its view; replaced (not mutated) on each snapshot so templates update. */
  readonly nodes = shallowReactive(new Map<string, NodeView>());
  /** The cluster's total, one point per snapshot of the node this page is connected to. */
  readonly cluster = shallowRef<{ series: Series; version: number }>({ series: emptySeries(), version: 0 });
  /** The live nodes the connected node knows of (from the broker's announcements). */
  readonly known = shallowRef<AdminNode[]>([]);
  client: TetherClient | undefined;

  async start(): Promise<void> {
    const s = await fetchSession();
    this.session.value = s;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const client = createClient({
      url: `${scheme}://${location.host}${s.wsPath}?admin=1`,
      reconnect: { minDelay: 500, maxDelay: 5_000 },
    });
    this.client = client;
    client.on('state', (next) => {
      this.link.value = next === 'open' ? 'live' : next === 'idle' ? 'connecting' : next;
    });
    // Refused upgrades look like network failures to a browser: ask the API whether the
    // session still holds (it reloads to the login form when it does not).
    client.on('reconnecting', ({ attempt }) => {
      if (attempt >= 2) void fetchSession().catch(() => {});
    });
    client.subscribe(STATS_CHANNEL, { onMessage: (data) => this.ingest(data as AdminSnapshot) });
    await client.connect();
  }

  stop(): void {
    this.client?.close();
  }

  /** Is `id`'s last snapshot recent? */
  fresh(view: NodeView, now = Date.now()): boolean {
    const interval = this.session.value?.interval ?? 1000;
    return now - view.seen < SILENT_AFTER * interval;
  }

  /** Applies one snapshot from the stats channel. */
  ingest(s: AdminSnapshot): void {
    if (!s || typeof s !== 'object' || !s.node?.id) return;
    const prev = this.nodes.get(s.node.id);
    const series = prev?.series ?? emptySeries();
    push(series, s.at, figuresOf(s));
    const now = Date.now();
    this.nodes.set(s.node.id, { node: s.node, last: s, seen: now, series });
    const home = this.session.value?.node.id;
    if (s.node.id !== home) return;
    if (s.nodes) {
      this.known.value = s.nodes;
      const live = new Set(s.nodes.map((n) => n.id));
      for (const id of [...this.nodes.keys()]) if (!live.has(id)) this.nodes.delete(id);
    }
    const fresh = [...this.nodes.values()].filter((v) => this.fresh(v, now));
    const c = this.cluster.value;
    push(c.series, s.at, combine(fresh));
    this.cluster.value = { series: c.series, version: c.version + 1 };
  }
}
