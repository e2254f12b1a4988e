/**
 * One channel subscription: its position in the channel's stream, recovery after a reconnect,
 * and duplicate suppression.
 * @module
 */
import type {
  Duration,
  MessageFrame,
  PresenceClient,
  PresenceDiffFrame,
  PresenceResult,
  PublishResult,
  StreamPosition,
  SubscribeResult,
} from '@tether/protocol';
import { NORMAL } from './close-codes.js';
import { deferred, noop } from './deferred.js';
import { Emitter } from './emitter.js';
import { DisconnectedError, ServerError } from './errors.js';
import type { RequestKind } from './requests.js';

/** One entry joining or leaving a channel's presence (from a `presence_diff` frame's lists). */
export interface PresenceEvent extends PresenceClient {
  channel: string;
}

/** Publications were missed and cannot be replayed: reload the channel's state from your source of truth. */
export interface GapContext {
  channel: string;
  /** Where the client was (undefined when the epoch changed mid-stream). */
  since: StreamPosition | undefined;
  /** The channel's position now. */
  offset: number;
  epoch: string;
}

export interface SubscribeOptions<D = unknown> {
  /** Each publication, exactly once and in offset order. */
  onMessage?: (data: D, message: MessageFrame<D>) => void;
  /** Publications were missed and cannot be recovered (`recovered: false`, a new epoch, or a jump in live offsets). */
  onGap?: (gap: GapContext) => void;
  onJoin?: (event: PresenceEvent) => void;
  onLeave?: (event: PresenceEvent) => void;
  /**
   * Every `presence_diff` as it comes, after its `onLeave` and `onJoin` calls. Large channels
   * send counts only (`joined`, `left`, no lists): then this is the only presence callback.
   */
  onPresence?: (diff: PresenceDiffFrame) => void;
  /** Resume from a stored position (e.g. kept across page loads). @default undefined (from now) */
  since?: StreamPosition;
  /**
   * On the first subscribe, deliver the channel's last `history` publications (as far as the
   * namespace's history holds them), then go on live with no gap and no duplicate. Ignored with `since`.
   * @default 0
   */
  history?: number;
}

/** Which page of a channel's presence `presencePage` asks for. */
export interface PresencePageOptions {
  /** At most this many entries (an integer >= 1); the server lowers it to its `maxPresencePage`. */
  limit?: number | undefined;
  /** The `next` of the previous page; none for the first. */
  cursor?: string | undefined;
}

export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed';

export type SubscriptionEvents = {
  /** Every change of `state`, including back to `subscribing` when the connection drops. */
  state: [next: SubscriptionState, prev: SubscriptionState];
  /** After every successful (re)subscribe. */
  subscribed: [{ channel: string; recovered: boolean; offset: number; epoch: string }];
  /** By `unsubscribe()` (`reason: 'client'`), by the server's `unsubscribed` frame, or a refused subscribe. */
  unsubscribed: [{ channel: string; reason: string }];
  error: [unknown];
};

export interface ClientPublishOptions {
  /** Idempotency key. @default a random key per call, reused when the publish is resent after a reconnect */
  key?: string;
  /** @default the client's `requestTimeout` */
  timeout?: Duration;
}

/** @deprecated Renamed {@link ClientPublishOptions} (the server and the broker have their own `PublishOptions`). */
export type PublishOptions = ClientPublishOptions;

/** @internal What a subscription needs from its client. */
export interface SubscriptionHost {
  open(): boolean;
  remove(sub: { readonly channel: string }): void;
  request<R>(frame: object, timeout?: Duration, kind?: RequestKind): Promise<R>;
}

let keySeq = 0;
/** @internal A fresh idempotency key: a UUID where available (secure contexts, Node), else time + random + counter. */
export const randomKey = (): string =>
  globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${++keySeq}`;

export class Subscription<D = unknown> extends Emitter<SubscriptionEvents> {
  // `declare`: set in the constructor, so no class-field initializer ships for it.
  declare readonly channel: string;
  #state: SubscriptionState = 'subscribing';
  #pos: StreamPosition | undefined;
  #host: SubscriptionHost;
  #opts: SubscribeOptions<D>;
  #settle: (err?: unknown) => void;
  /** Resolves on the first successful subscribe; rejects if that never happens (refused, timeout, close). */
  declare readonly ready: Promise<void>;

  /** @internal Use `client.subscribe()`. */
  constructor(host: SubscriptionHost, channel: string, opts: SubscribeOptions<D>) {
    super();
    this.#host = host;
    this.channel = channel;
    this.#opts = opts;
    this.#pos = opts.since && { ...opts.since };
    // Only the first settle counts: a settled promise ignores the rest.
    ({ promise: this.ready, settle: this.#settle } = deferred());
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  /** The last position seen: store it to resume later with `since`. */
  get position(): StreamPosition | undefined {
    return this.#pos && { ...this.#pos };
  }

  /** Publishes to this channel. Safe to retry: the idempotency key makes a resend a no-op on the server. */
  publish(data: D, options: ClientPublishOptions = {}): Promise<PublishResult> {
    return this.#host.request(
      { type: 'publish', channel: this.channel, data, key: options.key ?? randomKey() },
      options.timeout,
      'resend',
    );
  }

  /**
   * Who is in the channel now (channels with presence on): every entry, in connection-id order,
   * read page by page (one request per `maxPresencePage` entries, 1,000 on a default server).
   */
  async presence(): Promise<PresenceClient[]> {
    const all: PresenceClient[] = [];
    let page: PresenceResult | undefined;
    do {
      page = await this.presencePage({ cursor: page?.next });
      all.push(...page.clients);
    } while (page.next);
    return all;
  }

  /**
   * One page of the presence list: at most `limit` entries (lowered to the server's maximum)
   * after `cursor`, the `next` of the previous page. `next` is absent on the last page; a walk
   * returns no entry twice and every entry present throughout it.
   */
  presencePage({ limit, cursor }: PresencePageOptions = {}): Promise<PresenceResult> {
    return this.#host.request({ type: 'presence', channel: this.channel, limit, cursor });
  }

  /** Stops the subscription. Idempotent. */
  unsubscribe(): void {
    if (this.#state === 'unsubscribed') return;
    const wasOpen = this.#host.open();
    this.ended('client');
    if (wasOpen) this.#host.request({ type: 'unsubscribe', channel: this.channel }).catch(noop);
  }

  /** @internal Builds the subscribe frame, with `since` when there is a position to resume from. */
  frame(): Record<string, unknown> {
    return { type: 'subscribe', channel: this.channel, ...(this.#pos && { since: { ...this.#pos } }) };
  }

  /**
   * @internal Applies a subscribe reply. Runs synchronously inside the client's message handler, so
   * the offset bookkeeping is in place before the next frame (possibly from the same chunk) is read.
   * Returns true when the subscribe must be sent again (the `history` option's second step).
   */
  applyReply(ok: boolean, value: unknown): boolean | undefined {
    if (this.#state === 'unsubscribed') return;
    if (!ok) {
      this.emit('error', value);
      if (value instanceof ServerError) this.ended(value.code, value);
      else this.#settle(value);
      return;
    }
    const { offset, epoch, recovered, publications } = value as SubscribeResult;
    const since = this.#pos;
    const n = this.#opts.history;
    // First subscribe with `history`: again from `n` back, as a recovery; live frames wait meanwhile
    // (not subscribed yet) and the second reply carries them.
    if (!since && n && offset) {
      this.#pos = { offset: offset > n ? offset - n : 0, epoch };
      return true;
    }
    const gap = !!since && (!recovered || epoch !== since.epoch);
    if (!since || gap) this.#pos = { offset, epoch };
    this.#setState('subscribed');
    if (gap) this.#opts.onGap?.({ channel: this.channel, since, offset, epoch });
    for (const m of publications) this.applyMessage(m as MessageFrame<D>);
    const pos = this.#pos as StreamPosition;
    if (pos.offset < offset) pos.offset = offset;
    this.emit('subscribed', { channel: this.channel, recovered: !gap, offset: pos.offset, epoch: pos.epoch });
    this.#settle();
  }

  /** @internal A publication: delivered once, in order; anything at or below the last offset is a replay. */
  applyMessage(m: MessageFrame<D>): void {
    const pos = this.#pos;
    if (this.#state !== 'subscribed' || !pos) return;
    const { offset, epoch } = m;
    if (epoch !== pos.epoch) {
      this.#opts.onGap?.({ channel: this.channel, since: undefined, offset, epoch });
      this.#pos = { offset, epoch };
    } else if (offset <= pos.offset) return;
    else {
      // A live jump past the next offset means a broker could not backfill what it missed: never silent.
      if (offset > pos.offset + 1) this.#opts.onGap?.({ channel: this.channel, since: { ...pos }, offset, epoch });
      pos.offset = offset;
    }
    this.#opts.onMessage?.(m.data, m);
  }

  /** @internal Leaves first, then joins, then the diff itself. */
  applyPresence(f: PresenceDiffFrame): void {
    for (const c of f.leaves ?? []) this.#opts.onLeave?.({ ...c, channel: this.channel });
    for (const c of f.joins ?? []) this.#opts.onJoin?.({ ...c, channel: this.channel });
    this.#opts.onPresence?.(f);
  }

  /** @internal The connection dropped: resubscribe (with `since`) on the next open. */
  reset(): void {
    if (this.#state === 'subscribed') this.#setState('subscribing');
  }

  /** @internal The client closed for good: an unresolved `ready` must still settle. */
  closed(err: unknown): void {
    this.reset();
    this.#settle(err);
  }

  /** The one writer of `state`. */
  #setState(next: SubscriptionState): void {
    const prev = this.#state;
    if (prev === next) return;
    this.#state = next;
    this.emit('state', next, prev);
  }

  /**
   * @internal It ended: by `unsubscribe()` (`'client'`), by the server's `unsubscribed` frame, or
   * a refused subscribe (`err`, the server's error).
   */
  ended(reason: string, err: unknown = new DisconnectedError(NORMAL, `unsubscribed: ${reason}`)): void {
    if (this.#state === 'unsubscribed') return;
    this.#setState('unsubscribed');
    this.#host.remove(this);
    this.#settle(err);
    this.emit('unsubscribed', { channel: this.channel, reason });
  }
}
