/**
 * Local channel membership and fan-out. The hub subscribes this node to a channel at the broker
 * once (not once per client), buffers publications for connections whose subscribe is still
 * reading history, and sends each publication's bytes — encoded once per codec — to every
 * live subscriber.
 * @module
 */
import { CloseCode, type PresenceClient } from '@tether/protocol';
import type { Broker, Publication } from './broker.js';
import { EncodedFrame } from './encoded.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import type { Session } from './session.js';

/** Publications buffered for one subscribe in progress before the connection counts as too slow. */
const MAX_PENDING = 10_000;

interface LocalChannel {
  live: Set<Session>;
  /** Connections between "registered" and "reply sent", with the publications seen meanwhile. */
  pending: Map<Session, Publication[]>;
  /** Resolves once the broker delivers this channel's publications to this node. */
  ready: Promise<void>;
}

/** @internal */
export class Hub {
  private readonly channels = new Map<string, LocalChannel>();
  /** Per-channel chain of broker subscribe/unsubscribe calls, so they reach the broker in order. */
  private readonly ops = new Map<string, Promise<void>>();

  constructor(
    private readonly broker: Broker,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
  ) {}

  private chain(channel: string, op: () => Promise<void>): Promise<void> {
    const prev = this.ops.get(channel) ?? Promise.resolve();
    const next = prev.then(op, op);
    const settled = next.catch(() => {});
    this.ops.set(channel, settled);
    void settled.then(() => {
      if (this.ops.get(channel) === settled) this.ops.delete(channel);
    });
    return next;
  }

  /**
   * Step 1 of a subscribe: from now on every publication of `channel` is buffered for `session`;
   * resolves when the broker subscription is in place, so history read afterwards cannot miss one.
   */
  async addPending(channel: string, session: Session): Promise<void> {
    let ch = this.channels.get(channel);
    if (!ch) {
      const fresh: LocalChannel = { live: new Set(), pending: new Map(), ready: Promise.resolve() };
      fresh.ready = this.chain(channel, () => this.broker.subscribe(channel));
      // A failed broker subscription must not stick: the next subscriber tries again.
      fresh.ready.catch(() => {
        if (this.channels.get(channel) === fresh) this.channels.delete(channel);
      });
      this.channels.set(channel, fresh);
      ch = fresh;
    }
    ch.live.delete(session);
    ch.pending.set(session, []);
    await ch.ready;
  }

  /**
   * Step 3 (after the reply was sent): sends what arrived meanwhile past the reply's position, then
   * makes the connection live. Synchronous, so no publication can slip in between.
   */
  goLive(channel: string, session: Session, offset: number, epoch: string): boolean {
    const ch = this.channels.get(channel);
    const buffered = ch?.pending.get(session);
    if (!ch || !buffered) return false;
    ch.pending.delete(session);
    for (const pub of buffered) {
      if (pub.epoch === epoch && pub.offset <= offset) continue;
      session.sendEncoded(new EncodedFrame(pub));
    }
    if (session.closing) return false;
    ch.live.add(session);
    return true;
  }

  /** Removes `session` from `channel`; the last one out unsubscribes this node at the broker. */
  remove(channel: string, session: Session): void {
    const ch = this.channels.get(channel);
    if (!ch) return;
    ch.live.delete(session);
    ch.pending.delete(session);
    if (ch.live.size > 0 || ch.pending.size > 0) return;
    this.channels.delete(channel);
    this.chain(channel, () => this.broker.unsubscribe(channel)).catch((err: unknown) =>
      this.logger.warn({ err, channel }, 'broker unsubscribe failed'),
    );
  }

  /** Broker event: a publication for a channel this node subscribed to. */
  deliver(pub: Publication): void {
    const ch = this.channels.get(pub.channel);
    if (!ch) return;
    for (const [session, buffered] of ch.pending) {
      buffered.push(pub);
      if (buffered.length > MAX_PENDING) session.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
    }
    if (ch.live.size === 0) return;
    const frame = new EncodedFrame(pub);
    // Copy: a send may close a slow consumer, which removes it from `live` mid-iteration.
    for (const session of [...ch.live]) session.sendEncoded(frame);
    this.metrics.publishLatency.observe(Math.max(0, Date.now() - pub.ts) / 1000);
  }

  /** Broker event: a presence change, sent to this node's live subscribers of the channel. */
  presence(type: 'join' | 'leave', channel: string, client: PresenceClient): void {
    const ch = this.channels.get(channel);
    if (!ch || ch.live.size === 0) return;
    const body: Record<string, unknown> = { type, channel, user: client.user, connectionId: client.connectionId };
    if (client.info !== undefined) body.info = client.info;
    const frame = new EncodedFrame(body);
    for (const session of [...ch.live]) session.sendEncoded(frame);
  }

  /** Local subscriber count of a channel (live and pending). */
  size(channel: string): number {
    const ch = this.channels.get(channel);
    return ch ? ch.live.size + ch.pending.size : 0;
  }
}
