/**
 * Node announcements: each node keeps an entry in the presence store (the broker's own with
 * Redis, so every node sees it) under `tether-admin:nodes`, refreshed every third of its lease.
 * A node that dies stops refreshing, and its entry expires within the lease.
 * @module
 */
import type { PresenceStore } from '@tether/broker';
import type { PresenceClient } from '@tether/protocol';
import type { Logger } from '../logger.js';
import type { AdminNode } from './types.js';

export const NODES_CHANNEL = 'tether-admin:nodes';

export class NodeAnnouncer {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly presence: PresenceStore,
    private readonly node: AdminNode,
    private readonly lease: number,
    private readonly logger: Logger,
  ) {}

  private get entry(): PresenceClient {
    return { user: 'tether-node', connectionId: this.node.id, info: this.node };
  }

  private refresh(): Promise<void> {
    return this.presence
      .add(NODES_CHANNEL, this.entry, this.lease)
      .catch((err: unknown) => this.logger.warn({ err }, 'admin: node announcement failed'));
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), Math.max(100, Math.floor(this.lease / 3)));
    this.timer.unref();
  }

  /** Stops refreshing and withdraws the entry (a graceful stop need not wait for the lease). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.presence.remove(NODES_CHANNEL, this.entry).catch(() => {});
  }

  /** Every node whose lease is current, this one first. */
  async list(): Promise<AdminNode[]> {
    const entries = await this.presence.list(NODES_CHANNEL);
    const nodes = entries.map((e) => e.info as AdminNode).filter((n) => n && typeof n.id === 'string');
    return nodes.sort((a, b) => (a.id === this.node.id ? -1 : b.id === this.node.id ? 1 : a.id.localeCompare(b.id)));
  }
}
