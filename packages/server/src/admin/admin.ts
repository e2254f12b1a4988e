/**
 * The admin side of a node: it publishes this node's figures on `tether-admin:stats` once per
 * interval while someone watches (on any node), announces the node, and carries out operator
 * actions — disconnect, and refuse a user for a while — on every node through the broker's
 * `tether-admin:control` channel. While nobody watches, a tick costs one map lookup.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Broker, PresenceStore, Publication } from '@tether/broker';
import { CloseCode } from '@tether/protocol';
import type { Identity } from '../auth.js';
import type { Channels } from '../channels.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import type { Session } from '../session.js';
import { latency, type Reading, rates, read } from './figures.js';
import { NodeAnnouncer } from './nodes.js';
import {
  ADMIN_NAMESPACE,
  type AdminChannel,
  type AdminConnection,
  type AdminNode,
  type AdminSnapshot,
  STATS_CHANNEL,
} from './types.js';

export const CONTROL_CHANNEL = 'tether-admin:control';
const ADMIN_PREFIX = `${ADMIN_NAMESPACE}:`;
/** Close code and reason of a connection an operator removed (the client reconnects, with backoff). */
export const OPERATOR_CLOSE = { code: CloseCode.POLICY_VIOLATION, reason: 'disconnected by an operator' } as const;
const TOP_CHANNELS = 100;
const TOP_CONNECTIONS = 200;
/** A watched node wakes the others every this many intervals; they stay awake for three times that. */
const WAKE_EVERY = 5;

/** An operator action, as it travels between nodes. */
export interface DisconnectCommand {
  connectionId?: string;
  user?: string;
  /** Refuse `user`'s upgrades for this long (ms). */
  refuseFor?: number;
}

type Control = { op: 'wake'; node: string } | ({ op: 'disconnect'; node: string } & DisconnectCommand);

export interface AdminDeps {
  broker: Broker;
  presence: PresenceStore;
  metrics: ServerMetrics;
  channels: Channels;
  sessions: ReadonlySet<Session>;
  logger: Logger;
  /** ms between snapshots. */
  interval: number;
  /** ms a node's announcement lives without a refresh. */
  lease: number;
  dedupTtl: number;
}

export class Admin {
  node: AdminNode = {
    id: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    address: '',
    broker: '',
    startedAt: Date.now(),
  };
  private readonly refusedUntil = new Map<string, number>();
  private announcer: NodeAnnouncer | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private last: Reading | undefined;
  private lastWake = 0;
  private awakeUntil = 0;
  private busy = false;

  constructor(private readonly d: AdminDeps) {
    this.node.broker = d.broker.name;
  }

  get interval(): number {
    return this.d.interval;
  }

  /** After the server listens: subscribe to operator actions, announce the node, start ticking. */
  async start(address: string): Promise<void> {
    this.node = { ...this.node, address };
    await this.d.broker.subscribe(CONTROL_CHANNEL);
    this.announcer = new NodeAnnouncer(this.d.presence, this.node, this.d.lease, this.d.logger);
    await this.announcer.start();
    this.timer = setInterval(() => void this.tick(), this.d.interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.announcer?.stop();
  }

  nodes(): Promise<AdminNode[]> {
    return this.announcer ? this.announcer.list() : Promise.resolve([this.node]);
  }

  /** Why `identity` may not connect now, for the upgrade. */
  refused(identity: Identity): string | undefined {
    const until = this.refusedUntil.get(identity.user);
    if (until === undefined) return undefined;
    if (until > Date.now()) return `refused by an operator until ${new Date(until).toISOString()}`;
    this.refusedUntil.delete(identity.user);
    return undefined;
  }

  /** A broker publication: true when it was an operator action (then no client sees it). */
  control(pub: Publication): boolean {
    if (pub.channel !== CONTROL_CHANNEL) return false;
    // Only server code and the API publish without `from`; a client of a node without admin could publish here.
    if (pub.from !== undefined) return true;
    const c = pub.data as Control;
    if (!c || typeof c !== 'object' || c.node === this.node.id) return true;
    if (c.op === 'wake') this.awakeUntil = Date.now() + 3 * WAKE_EVERY * this.d.interval;
    else if (c.op === 'disconnect') this.apply(c);
    return true;
  }

  /** Disconnects here now and tells every other node; resolves with how many closed here. */
  async disconnect(command: DisconnectCommand): Promise<number> {
    const closed = this.apply(command);
    await this.send({ op: 'disconnect', node: this.node.id, ...command });
    return closed;
  }

  /** This node's connections, newest first, optionally only `user`'s. */
  connections(user?: string, limit = Number.POSITIVE_INFINITY): AdminConnection[] {
    const rows: AdminConnection[] = [];
    const all = [...this.d.sessions].reverse();
    for (const s of all) {
      if (rows.length >= limit) break;
      if (s.closing || (user !== undefined && s.user !== user)) continue;
      rows.push({
        id: s.connectionId,
        user: s.user,
        address: s.address,
        since: s.openedAt,
        rtt: s.rtt ?? null,
        subscriptions: this.d.channels.countOf(s),
        buffered: s.ws.bufferedAmount,
        admin: s.admin,
      });
    }
    return rows;
  }

  /** This node's channels by subscribers (most first), without the admin namespace's own. */
  channelList(limit = TOP_CHANNELS): { total: number; top: AdminChannel[] } {
    const all: AdminChannel[] = [];
    for (const [channel, subscribers] of this.d.channels.counts())
      if (!channel.startsWith(ADMIN_PREFIX)) all.push({ channel, subscribers });
    all.sort((a, b) => b.subscribers - a.subscribers || a.channel.localeCompare(b.channel));
    return { total: all.length, top: all.slice(0, limit) };
  }

  private apply(c: DisconnectCommand): number {
    if (c.user !== undefined && c.refuseFor !== undefined && c.refuseFor > 0)
      this.refusedUntil.set(c.user, Date.now() + c.refuseFor);
    let closed = 0;
    for (const s of [...this.d.sessions]) {
      if (s.closing) continue;
      const match = c.connectionId !== undefined ? s.connectionId === c.connectionId : s.user === c.user;
      if (!match) continue;
      s.close(OPERATOR_CLOSE.code, OPERATOR_CLOSE.reason);
      closed += 1;
    }
    if (closed > 0) this.d.logger.info({ ...c, closed }, 'admin: disconnected');
    return closed;
  }

  private async send(c: Control): Promise<void> {
    await this.d.broker.publish(CONTROL_CHANNEL, c, { historySize: 0, historyTtl: 0, dedupTtl: this.d.dedupTtl });
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    const watchers = this.d.channels.subscribers(STATS_CHANNEL);
    if (watchers === 0 && now >= this.awakeUntil) {
      this.last = undefined;
      return;
    }
    if (this.busy) return;
    this.busy = true;
    try {
      if (watchers > 0 && now - this.lastWake >= WAKE_EVERY * this.d.interval) {
        this.lastWake = now;
        await this.send({ op: 'wake', node: this.node.id });
      }
      const snapshot = await this.snapshot(watchers > 0);
      await this.d.broker.publish(STATS_CHANNEL, snapshot, {
        historySize: 0,
        historyTtl: 0,
        dedupTtl: this.d.dedupTtl,
      });
    } catch (err) {
      this.d.logger.warn({ err }, 'admin: snapshot not published');
    } finally {
      this.busy = false;
    }
  }

  private async snapshot(withNodes: boolean): Promise<AdminSnapshot> {
    const reading = await read(this.d.metrics);
    const prev = this.last;
    this.last = reading;
    const now = Date.now();
    for (const [user, until] of this.refusedUntil) if (until <= now) this.refusedUntil.delete(user);
    const rows = this.connections(undefined, TOP_CONNECTIONS);
    const snapshot: AdminSnapshot = {
      node: this.node,
      at: reading.at,
      interval: prev ? reading.at - prev.at : 0,
      connections: reading.connections,
      subscriptions: reading.subscriptions,
      rates: prev ? rates(prev, reading) : null,
      latency: prev ? latency(prev, reading) : null,
      totals: reading.totals,
      channels: this.channelList(),
      connectionList: { total: this.d.sessions.size, rows },
      refused: [...this.refusedUntil].map(([user, until]) => ({ user, until })),
    };
    if (withNodes) snapshot.nodes = await this.nodes();
    return snapshot;
  }
}
