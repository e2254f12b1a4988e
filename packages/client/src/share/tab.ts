/**
 * The tab's side of a shared connection: a `TetherClient` with the same API and events as one
 * from `createClient`, whose connection lives in the hub. Its subscriptions are the core's
 * `Subscription` objects, fed by the hub, so duplicate suppression by offset, `onGap` and the
 * state events are the same code as without sharing — and a publication replayed by a new hub
 * after a takeover is dropped here, by offset, like any replay.
 * @module
 */
import { channelNameError, type Duration, type PublishResult } from '@tether/protocol';
import { NORMAL } from '../close-codes.js';
import { deferred } from '../deferred.js';
import { Emitter } from '../emitter.js';
import { DisconnectedError } from '../errors.js';
import { CLIENT_DEFAULTS } from '../options.js';
import { type ClientState, canTransition } from '../state.js';
import { randomKey, type SubscribeOptions, Subscription } from '../subscription.js';
import type {
  ClientEvents,
  ClientOptions,
  ClientStats,
  CloseContext,
  ReconnectingContext,
  TetherClient,
} from '../types.js';
import { type Frozen, freeze, type HubMessage, type Sub, type TabMessage, thaw } from './messages.js';
import { createTabRequests } from './tab-requests.js';

/** @internal How a tab reaches its hub. */
export interface TabLink {
  post(msg: TabMessage): void;
}

/** Close code a tab reports when its hub went away and no new one was open within {@link TAKEOVER}. */
export const HUB_LOST = 1006;
/** How long an open tab waits, still `open`, for the next hub to be open before it reports the loss. */
export const TAKEOVER = 3000;

/** @internal */
export type Tab = ReturnType<typeof createTab>;

/** @internal */
export function createTab(options: ClientOptions) {
  const emitter = new Emitter<ClientEvents>();
  const subs = new Map<string, Subscription>();
  let link: TabLink | undefined;
  let state: ClientState = 'idle';
  /** `connect()` was called and `close()` was not. */
  let wanted = false;
  /** The hub met this tab (`hi`) since the last `bye`. */
  let met = false;
  let want = false;
  let rtt: number | undefined;
  let hub: Extract<HubMessage, { t: 'state' }> | undefined;
  let waiter: ReturnType<typeof deferred> | undefined;
  /** Set while an open tab waits for the next hub: what the new hub goes through meanwhile is not reported. */
  let grace: ReturnType<typeof setTimeout> | undefined;

  const post = (msg: TabMessage): void => link?.post(msg);
  const queueMax = options.queue?.max ?? CLIENT_DEFAULTS.queue.max;
  const requests = createTabRequests(
    queueMax,
    post,
    () => !!link && met,
    () => state === 'closed',
  );
  const request = requests.request;
  /** `history` asked per channel: only until the first position is known. */
  const asked = new Map<string, number>();
  const announce = (s: Subscription): Sub => {
    const since = s.position;
    return { c: s.channel, since, ...(!since && { h: asked.get(s.channel) }) };
  };

  function setState(next: ClientState): void {
    const prev = state;
    if (prev === next || !canTransition(prev, next)) return;
    state = next;
    emitter.emit('state', next, prev);
  }

  function hello(): void {
    if (!link) return;
    met = true;
    const list = [...subs.values()].map(announce);
    post({ t: 'hi', connect: wanted, subs: list, want });
    requests.flush();
  }

  /** The connection is not open (any more): what an open connection dropping does to each part. */
  function down(code: number, reason: string): void {
    calm();
    if (state === 'open') {
      for (const s of subs.values()) s.reset();
      emitter.emit('close', { code, reason, reconnect: true });
      setState('reconnecting');
      emitter.emit('reconnecting', { attempt: 1, delay: 0, code });
    }
  }

  function calm(): void {
    clearTimeout(grace);
    grace = undefined;
  }

  /** Stopped for good (by `close()`, or the hub's connection gave up). */
  function stop(code: number, reason: string, told: boolean): void {
    if (state === 'closed' || state === 'idle') return;
    calm();
    wanted = false;
    const err = new DisconnectedError(code, reason);
    requests.fail(err);
    for (const s of subs.values()) s.closed(err);
    if (!told) emitter.emit('close', { code, reason, reconnect: false });
    setState('closed');
    waiter?.settle(err);
    waiter = undefined;
  }

  function onState(m: Extract<HubMessage, { t: 'state' }>): void {
    hub = m;
    if (!wanted) return;
    if (grace) {
      // The next hub is open (with this tab's subscriptions resubscribed behind it): nothing to report.
      if (m.s === 'open' && m.o) calm();
    } else if (m.s === 'open') {
      if (!m.o || state === 'open') return; // the `open` event follows with the welcome
      setState('open');
      emitter.emit('open', m.o);
      waiter?.settle();
      waiter = undefined;
    } else if (m.s === 'reconnecting' || state === 'open') {
      if (state === 'open') for (const s of subs.values()) s.reset();
      setState('reconnecting');
    }
  }

  function receive(m: HubMessage): void {
    const sub = 'c' in m ? subs.get(m.c) : undefined;
    if (m.t === 'state') onState(m);
    else if (m.t === 'ev') onEvent(m.e, m.a);
    else if (m.t === 'err') emitter.emit('error', thaw(m.e));
    else if (m.t === 'sub') sub?.applyReply(m.ok, m.ok ? m.v : thaw(m.e));
    else if (m.t === 'm') sub?.applyMessage(m.f);
    else if (m.t === 'p') sub?.applyPresence(m.f);
    else if (m.t === 'end') sub?.ended(m.reason);
    else if (m.t === 'res') {
      requests.answer(m.id, m.ok, m.v, () => thaw(m.v as Frozen));
    } else
      (async () => (typeof options.token === 'function' ? await options.token() : options.token))().then(
        (v) => post({ t: 'tok', id: m.id, v }),
        (err) => post({ t: 'tok', id: m.id, err: freeze(err).m }),
      );
  }

  function onEvent(e: 'close' | 'reconnecting' | 'message', a: unknown): void {
    if (e === 'message') emitter.emit('message', a);
    else if (!wanted || grace) return;
    else if (e === 'reconnecting') emitter.emit('reconnecting', a as ReconnectingContext);
    else {
      const ctx = a as CloseContext;
      emitter.emit('close', ctx);
      if (!ctx.reconnect) stop(ctx.code, ctx.reason, true);
    }
  }

  const wants = (event: keyof ClientEvents): Emitter<ClientEvents> => {
    if (event === 'message' && !want) post({ t: 'want' });
    want ||= event === 'message';
    return emitter;
  };
  const to = (timeout: Duration | undefined): { timeout?: Duration } => (timeout === undefined ? {} : { timeout });
  const host = {
    open: () => state === 'open',
    remove(sub: { readonly channel: string }): void {
      if (subs.get(sub.channel) !== sub) return;
      subs.delete(sub.channel);
      post({ t: 'unsub', c: sub.channel });
    },
    request<R>(frame: object, timeout?: Duration): Promise<R> {
      const f = frame as { type: string; channel: string; data: unknown; key: string };
      if (f.type === 'publish')
        return request<R>({ k: 'publish', channel: f.channel, data: f.data, key: f.key, ...to(timeout) });
      if (f.type === 'presence') return request<R>({ k: 'presence', channel: f.channel });
      return Promise.resolve(undefined as R); // unsubscribe: `remove` told the hub
    },
  };

  const client: TetherClient = {
    get state() {
      return state;
    },
    get stale() {
      return hub?.stale ?? false;
    },
    get plain() {
      return hub?.plain ?? false;
    },
    get stats(): ClientStats {
      const s = hub?.stats ?? { rtt: undefined, reconnects: 0, queued: 0, lastClose: undefined };
      return { ...s, rtt: rtt ?? s.rtt, queued: s.queued + requests.waiting() };
    },
    // The hub forwards `message` events only to tabs that listen for them.
    on: (event, listener) => wants(event).on(event, listener),
    once: (event, listener) => wants(event).once(event, listener),
    off: emitter.off.bind(emitter),
    listenerCount: emitter.listenerCount.bind(emitter),

    reconnect() {
      if (state === 'idle' || state === 'closed') void client.connect().catch(() => {});
      else post({ t: 'reconnect' });
    },
    connect() {
      if (state === 'open') return Promise.resolve();
      waiter ??= deferred();
      const { promise } = waiter;
      if (!wanted) {
        wanted = true;
        setState('connecting');
        if (!met) hello();
        else post({ t: 'connect' });
      }
      return promise;
    },
    close() {
      if (state === 'closed' || state === 'idle') return;
      post({ t: 'bye' });
      met = false;
      stop(NORMAL, 'closed by client', false);
    },
    send(data) {
      const now = state === 'open' && !!link;
      request({ k: 'send', data }).catch((err) => emitter.emit('error', err));
      return now;
    },
    rpc: <R>(method: string, params?: unknown, opts: { timeout?: Duration } = {}) =>
      request<R>({ k: 'rpc', method, ...(params !== undefined && { params }), ...to(opts.timeout) }),
    publish: (channel, data, opts = {}) =>
      request<PublishResult>({ k: 'publish', channel, data, key: opts.key ?? randomKey(), ...to(opts.timeout) }),
    subscribe<D>(channel: string, opts: SubscribeOptions<D> = {}) {
      const why = channelNameError(channel);
      if (why) throw new TypeError(`tether: ${why}`);
      if (subs.has(channel))
        throw new TypeError(`tether: already subscribed to "${channel}"; reuse that Subscription or unsubscribe() it`);
      // The hub does `history` (on the one connection); the reply then starts before its publications.
      const { history, ...own } = opts;
      const sub = new Subscription<D>(host, channel, own);
      if (history) asked.set(channel, history);
      subs.set(channel, sub as unknown as Subscription);
      if (met) post({ t: 'sub', ...announce(sub as unknown as Subscription) });
      return sub;
    },
    async ping() {
      const start = Date.now();
      await request({ k: 'ping' });
      rtt = Date.now() - start;
      return rtt;
    },
  };

  return {
    client,
    /**
     * A hub is there: say hello (subscriptions with their positions, the wish to connect). Returns
     * where that hub's messages go: nowhere once another link replaced this one.
     */
    attach(next: TabLink): (m: HubMessage) => void {
      link = next;
      met = false;
      if (wanted || subs.size > 0) hello();
      return (m) => link === next && receive(m);
    },
    /**
     * The hub went away. What it was asked and did not answer: a publish is asked again of the
     * next hub (its key makes that safe), anything else rejects, as on a dropped connection.
     */
    detach(which: TabLink | undefined): void {
      if (!link || which !== link) return;
      link = undefined;
      met = false;
      const err = new DisconnectedError(HUB_LOST, 'the tab holding the shared connection went away');
      requests.dropped(err);
      if (state === 'open') grace ??= setTimeout(() => down(HUB_LOST, err.reason), TAKEOVER);
    },
    /** The page is going away: the hub lets this tab go now rather than when it notices. */
    bye(): void {
      if (met) post({ t: 'bye' });
    },
  };
}
