/**
 * The channel registry: the only owner of per-connection channel state — which connections are
 * subscribed to which channel, which of them are live, the subscriptions gauge and this node's
 * presence entries. It subscribes this node to a channel at the broker once (not once per
 * client), buffers publications for connections whose subscribe is still reading history, and
 * sends each publication's bytes — encoded once per codec — to every live subscriber.
 * @module
 */
import { type Broker, type PresenceStore, type Publication, serialPerKey } from '@tether/broker';
import { CloseCode, type PresenceClient, type SubscribeFrame, type SubscribeResult } from '@tether/protocol';
import { EncodedFrame, fanOut } from './encoded.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import { PresenceBatcher, presenceClient } from './presence-batch.js';
import { subscribeResult } from './recovery.js';
import { RpcError } from './rpc-error.js';
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

/**
 * One connection's membership of one channel, from its subscribe until it leaves. A new object
 * per subscribe, so a subscribe can tell that a later subscribe or unsubscribe superseded it.
 */
interface Membership {
  /** Whether this connection is in the channel's presence set. */
  present: boolean;
}

/** What a subscribe gives back: the reply's result, and step 4, to run right after sending it. */
export interface Subscribed {
  result: SubscribeResult;
  goLive(): void;
}

export interface ChannelSettings {
  limits: { maxSubscriptions: number };
  /** Presence entries expire this long after their last refresh, in ms; refreshed every third of it. */
  presenceTtl: number;
  /** Shortest time between two `presence_diff` frames of one channel, in ms. */
  presenceInterval: number;
  /** Above this many subscribers here, `presence_diff` carries counts, not lists. */
  presenceListLimit: number;
}

/** @internal */
export class Channels {
  private readonly local = new Map<string, LocalChannel>();
  private readonly members = new Map<Session, Map<string, Membership>>();
  /** Subscribes still being checked or replayed: a publish sent right after waits for its subscribe. */
  private readonly subscribing = new Map<Session, Map<string, Promise<void>>>();
  /** Broker subscribe/unsubscribe calls of one channel reach the broker in order. */
  private readonly serial = serialPerKey();
  private refreshTimer: ReturnType<typeof setInterval> | undefined;
  private readonly batcher: PresenceBatcher;

  constructor(
    private readonly broker: Broker,
    private readonly presence: PresenceStore,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
    private readonly settings: ChannelSettings,
  ) {
    this.batcher = new PresenceBatcher(
      { interval: settings.presenceInterval, listLimit: settings.presenceListLimit },
      (channel) => this.subscribers(channel),
      (channel, frame) => this.sendLive(channel, new EncodedFrame(frame)),
    );
  }

  /** Is `s` subscribed to `channel` (live, or its subscribe under way)? */
  has(s: Session, channel: string): boolean {
    return this.members.get(s)?.has(channel) ?? false;
  }

  /** How many channels `s` is subscribed to. */
  countOf(s: Session): number {
    return this.members.get(s)?.size ?? 0;
  }

  /** This node's live subscribers of `channel`. */
  subscribers(channel: string): number {
    return this.local.get(channel)?.live.size ?? 0;
  }

  /** Every channel this node serves, with its live subscribers here (for the admin figures). */
  *counts(): IterableIterator<[channel: string, subscribers: number]> {
    for (const [channel, ch] of this.local) yield [channel, ch.live.size];
  }

  /** The channels `s` is subscribed to. */
  of(s: Session): string[] {
    return [...(this.members.get(s)?.keys() ?? [])];
  }

  /**
   * The broker lost its store: subscribers are told, since their publishes fail with
   * `unavailable` meanwhile and live delivery pauses, which an app may want to show. Nothing is
   * lost — the broker backfills — so its return needs no frame.
   */
  brokerDown(): void {
    const frame = new EncodedFrame({
      type: 'error',
      error: { code: 'unavailable', message: 'the message broker is unreachable: publishing fails until it returns' },
    });
    for (const s of [...this.members.keys()]) s.sendEncoded(frame);
  }

  /** Records a subscribe in progress, until `done` settles. */
  track(s: Session, channel: string, done: Promise<void>): void {
    const mine = this.subscribing.get(s) ?? new Map<string, Promise<void>>();
    this.subscribing.set(s, mine);
    mine.set(channel, done);
    void done.finally(() => {
      const now = this.subscribing.get(s);
      if (now?.get(channel) !== done) return;
      now.delete(channel);
      if (now.size === 0) this.subscribing.delete(s);
    });
  }

  /** Settles once a subscribe of `channel` by `s` in progress has answered (at once when there is none). */
  whenSubscribed(s: Session, channel: string): Promise<void> | undefined {
    return this.subscribing.get(s)?.get(channel);
  }

  /**
   * Subscribe without a gap or a duplicate when publications race it: (1) register as pending —
   * publications from now on are buffered; (2) read history; (3) send the reply with everything
   * up to history's latest offset; (4) flush the buffered ones past that offset and go live.
   * Steps 3 and 4 run in one synchronous block: this returns the reply's result and step 4.
   */
  async subscribe(s: Session, f: SubscribeFrame, presence: boolean): Promise<Subscribed> {
    const { channel } = f;
    if (s.closing) throw new RpcError('unavailable', 'the connection is closing');
    const mine = this.members.get(s) ?? new Map<string, Membership>();
    const existing = mine.get(channel);
    if (!existing && mine.size >= this.settings.limits.maxSubscriptions)
      throw new RpcError(
        'bad_request',
        `at most ${this.settings.limits.maxSubscriptions} subscriptions per connection`,
      );
    this.members.set(s, mine);
    const entry: Membership = { present: existing?.present ?? false };
    mine.set(channel, entry);
    let history: Awaited<ReturnType<Broker['history']>>;
    try {
      await this.addPending(channel, s);
      history = await this.broker.history(channel, f.since ? { since: f.since.offset } : { limit: 0 });
    } catch (err) {
      if (this.members.get(s)?.get(channel) === entry) this.remove(s, channel);
      throw err;
    }
    // A close, or a later subscribe or unsubscribe of this channel, replaced the entry meanwhile.
    if (this.members.get(s)?.get(channel) !== entry)
      throw new RpcError('bad_request', 'superseded by a later subscribe or unsubscribe of this channel');
    return {
      result: subscribeResult(f.since, history),
      goLive: () => {
        if (!this.goLive(channel, s, history.offset, history.epoch)) return;
        if (presence && !entry.present) {
          entry.present = true;
          this.updatePresence('add', channel, s);
        }
      },
    };
  }

  /** Ends the subscription of `s` to `channel` (if any): live set, gauge, presence, and the broker when last. */
  remove(s: Session, channel: string): void {
    const mine = this.members.get(s);
    const entry = mine?.get(channel);
    if (!mine || !entry) return;
    mine.delete(channel);
    if (mine.size === 0) this.members.delete(s);
    const ch = this.local.get(channel);
    if (ch) {
      if (ch.live.delete(s)) this.metrics.subscriptions.dec();
      ch.pending.delete(s);
      if (ch.live.size === 0 && ch.pending.size === 0) {
        this.local.delete(channel);
        this.serial(channel, () => this.broker.unsubscribe(channel)).catch((err: unknown) =>
          this.logger.warn({ err, channel }, 'broker unsubscribe failed'),
        );
      }
    }
    if (entry.present) this.updatePresence('remove', channel, s);
  }

  /** The connection is closing: ends all its subscriptions now. */
  removeAll(s: Session): void {
    for (const channel of this.of(s)) this.remove(s, channel);
    this.subscribing.delete(s);
  }

  /** Broker event: a publication for a channel this node subscribed to. */
  deliver(pub: Publication): void {
    const ch = this.local.get(pub.channel);
    if (!ch) return;
    for (const [session, buffered] of ch.pending) {
      buffered.push(pub);
      if (buffered.length > MAX_PENDING) session.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
    }
    if (ch.live.size === 0) return;
    this.sendLive(pub.channel, new EncodedFrame(pub));
    this.metrics.deliveries.inc(ch.live.size);
    this.metrics.publishLatency.observe(Math.max(0, Date.now() - pub.ts) / 1000);
  }

  /** Presence event: batched into the channel's next `presence_diff` (N arrivals never cost N² frames). */
  announce(type: 'join' | 'leave', channel: string, client: PresenceClient): void {
    if (this.subscribers(channel) > 0) this.batcher.add(type, channel, presenceClient(client));
  }

  /** The same bytes to every live subscriber of `channel` here: no allocation per subscriber. */
  private sendLive(channel: string, frame: EncodedFrame): void {
    const live = this.local.get(channel)?.live;
    if (live) fanOut(live, frame, this.metrics);
  }

  /** Refreshes this node's presence entries every third of their TTL, so they expire only with the node. */
  startRefresh(): void {
    this.refreshTimer ??= setInterval(
      () => {
        for (const [s, mine] of this.members) {
          if (s.closing) continue;
          for (const [channel, entry] of mine) if (entry.present) this.updatePresence('refresh', channel, s);
        }
      },
      Math.floor(this.settings.presenceTtl / 3),
    );
    this.refreshTimer.unref();
  }

  stopRefresh(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    this.batcher.stop();
  }

  /** The one way this node changes the presence store; a failure is logged, never thrown. */
  private updatePresence(op: 'add' | 'refresh' | 'remove', channel: string, s: Session): void {
    const client = presenceClient(s);
    const done =
      op === 'remove'
        ? this.presence.remove(channel, client)
        : this.presence.add(channel, client, this.settings.presenceTtl);
    done.catch((err: unknown) => this.logger.warn({ err, channel }, `presence ${op} failed`));
  }

  /**
   * Step 1 of a subscribe: from now on every publication of `channel` is buffered for `s`;
   * resolves when the broker subscription is in place, so history read afterwards cannot miss one.
   */
  private async addPending(channel: string, s: Session): Promise<void> {
    let ch = this.local.get(channel);
    if (!ch) {
      const fresh: LocalChannel = { live: new Set(), pending: new Map(), ready: Promise.resolve() };
      fresh.ready = this.serial(channel, () => this.broker.subscribe(channel));
      // A failed broker subscription must not stick: the next subscriber tries again.
      fresh.ready.catch(() => {
        if (this.local.get(channel) === fresh) this.local.delete(channel);
      });
      this.local.set(channel, fresh);
      ch = fresh;
    }
    if (ch.live.delete(s)) this.metrics.subscriptions.dec();
    ch.pending.set(s, []);
    await ch.ready;
  }

  /**
   * Step 4 (after the reply was sent): sends what arrived meanwhile past the reply's position, then
   * makes the connection live. Synchronous, so no publication can slip in between.
   */
  private goLive(channel: string, s: Session, offset: number, epoch: string): boolean {
    const ch = this.local.get(channel);
    const buffered = ch?.pending.get(s);
    if (!ch || !buffered) return false;
    ch.pending.delete(s);
    for (const pub of buffered) {
      if (pub.epoch === epoch && pub.offset <= offset) continue;
      s.sendEncoded(new EncodedFrame(pub));
    }
    if (s.closing) return false;
    ch.live.add(s);
    this.metrics.subscriptions.inc();
    return true;
  }
}
