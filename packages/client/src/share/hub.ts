/**
 * The hub: the one real client that the tabs of one origin and user share. It runs in the
 * SharedWorker, or in the leader tab, and knows tabs only by id and by what they send. It holds
 * one `Subscription` per channel however many tabs want it (reference-counted), hands each
 * publication to the tabs of that channel, answers each request to the tab that asked, and
 * forwards the connection's state and events to every tab.
 * @module
 */
import type { MessageFrame, StreamPosition } from '@tether/protocol';
import { createClient } from '../client.js';
import type { Subscription } from '../subscription.js';
import type { ClientOptions, OpenContext, TetherClient } from '../types.js';
import { freeze, type HubMessage, type HubRequest, type TabMessage } from './messages.js';
import { createTokenAsk } from './tokens.js';

/** @internal How the hub reaches its tabs. */
export interface HubLink {
  send(tab: string, msg: HubMessage): void;
  sendMany(tabs: Iterable<string>, msg: HubMessage): void;
}

interface Tab {
  connect: boolean;
  want: boolean;
}

/** A subscribed tab that got every publication the hub delivered: its position is the hub's. */
const SYNCED = 'synced';

interface Chan {
  sub: Subscription;
  tabs: Set<string>;
  /** Tabs waiting for their subscribe reply, with the position each asked to resume from. */
  waiting: Map<string, StreamPosition | undefined | typeof SYNCED>;
  /** Publications of a (re)subscribe in progress, handed over with its reply. */
  buffer: MessageFrame[] | undefined;
  /** The hub's position when the (re)subscribe in progress started. */
  from: StreamPosition | undefined;
  err: unknown;
}

/** @internal */
export type Hub = ReturnType<typeof createHub>;

const noop = (): void => {};

/**
 * @internal
 * @param askTabs The token is a getter living in the tabs (the SharedWorker case): ask one.
 */
export function createHub(options: ClientOptions, link: HubLink, askTabs: boolean) {
  const tabs = new Map<string, Tab>();
  const chans = new Map<string, Chan>();
  const tokens = createTokenAsk((id) => {
    const [tab] = where((t) => t.connect);
    if (tab !== undefined) say(tab, { t: 'tok', id });
    return tab !== undefined;
  });
  let closed = false;

  const core: TetherClient = createClient(askTabs ? { ...options, token: tokens.get } : options);
  let opened: OpenContext | undefined;
  const where = (pick: (t: Tab) => boolean): string[] => [...tabs].filter(([, t]) => pick(t)).map(([id]) => id);
  const stateOf = (): HubMessage => ({
    t: 'state',
    s: core.state,
    stats: core.stats,
    plain: core.plain,
    stale: core.stale,
    ...(opened && { o: opened }),
  });

  /** What the hub tells every tab; nothing once it stopped (a new hub takes the tabs over). */
  const tell = (msg: HubMessage, to: Iterable<string> = tabs.keys()): void => {
    if (!closed) link.sendMany(to, msg);
  };
  const say = (tab: string, msg: HubMessage): void => {
    if (!closed) link.send(tab, msg);
  };
  core.on('state', (next) => {
    if (next !== 'open') opened = undefined;
    tell(stateOf());
  });
  // The tabs' `open` comes with the state, once the welcome is known.
  core.on('open', (ctx) => {
    opened = ctx;
    tell(stateOf());
  });
  for (const e of ['close', 'reconnecting'] as const) core.on(e, (a: unknown) => tell({ t: 'ev', e, a }));
  core.on('message', (a) =>
    tell(
      { t: 'ev', e: 'message', a },
      where((t) => t.want),
    ),
  );
  core.on('error', (err) => tell({ t: 'err', e: freeze(err) }));
  // `stats` change without an event (the rtt after each server heartbeat): sent on when they did.
  let told = '';
  const ticker = setInterval(() => {
    const now = JSON.stringify(core.stats);
    if (now !== told) tell(stateOf());
    told = now;
  }, 1000);

  function covered(since: StreamPosition | undefined | typeof SYNCED, from: StreamPosition | undefined): boolean {
    if (since === undefined || since === SYNCED) return true;
    return !!from && since.epoch === from.epoch && since.offset >= from.offset;
  }

  /** Subscribes the hub from `since` (a fresh core `Subscription`); the reply goes to every waiting tab. */
  function start(channel: string, ch: Chan, since: StreamPosition | undefined, history: number | undefined): void {
    ch.buffer = [];
    ch.from = since;
    const sub = core.subscribe(channel, {
      ...(since && { since }),
      ...(history && { history }),
      onMessage: (_data, m) => {
        if (ch.buffer) ch.buffer.push(m as MessageFrame);
        else tell({ t: 'm', c: channel, f: m as MessageFrame }, ch.tabs);
      },
      onPresence: (f) => tell({ t: 'p', c: channel, f }, ch.tabs),
    });
    ch.sub = sub;
    const mine = (): boolean => ch.sub === sub && chans.get(channel) === ch;
    sub.on('error', (err) => {
      ch.err = err;
    });
    sub.on('state', (next) => {
      if (next !== 'subscribing' || !mine()) return;
      // The connection dropped: every tab of the channel resubscribes with the hub.
      ch.buffer = [];
      ch.from = sub.position;
      for (const tab of ch.tabs) if (!ch.waiting.has(tab)) ch.waiting.set(tab, SYNCED);
    });
    sub.on('subscribed', (info) => {
      if (!mine()) return;
      const publications = ch.buffer ?? [];
      ch.buffer = undefined;
      // A tab that asked for `history` (and has no position) gets the replayed publications too.
      const first = publications[0]?.offset;
      for (const [tab, since] of ch.waiting) {
        const recovered = info.recovered && covered(since, ch.from);
        const offset = since === undefined && history && first !== undefined ? first - 1 : info.offset;
        say(tab, { t: 'sub', c: channel, ok: true, v: { ...info, offset, recovered, publications } });
      }
      ch.waiting.clear();
    });
    sub.on('unsubscribed', ({ reason }) => {
      if (!mine()) return;
      chans.delete(channel);
      for (const tab of ch.tabs)
        if (ch.waiting.has(tab) && ch.err) say(tab, { t: 'sub', c: channel, ok: false, e: freeze(ch.err) });
        else say(tab, { t: 'end', c: channel, reason });
    });
  }

  function subscribe(tab: string, channel: string, since: StreamPosition | undefined, history?: number): void {
    let ch = chans.get(channel);
    if (!ch) {
      ch = {
        tabs: new Set(),
        waiting: new Map(),
        buffer: undefined,
        from: undefined,
        err: undefined,
      } as unknown as Chan;
      chans.set(channel, ch);
      start(channel, ch, since, history);
    }
    ch.tabs.add(tab);
    const pos = ch.sub.position;
    const settled = ch.sub.state === 'subscribed' && !ch.buffer && pos;
    const base = settled ? pos : ch.from;
    if (since && (!base || (since.epoch === base.epoch && since.offset < base.offset))) {
      // This tab is behind what the hub holds (it rejoined late after a takeover): subscribe the
      // hub again from its position; the other tabs drop the replay by offset.
      for (const t of ch.tabs) if (!ch.waiting.has(t)) ch.waiting.set(t, SYNCED);
      ch.waiting.set(tab, since);
      const old = ch.sub;
      ch.sub = undefined as unknown as Subscription;
      old.unsubscribe();
      start(channel, ch, since, undefined);
    } else if (settled)
      say(tab, { t: 'sub', c: channel, ok: true, v: { ...pos, recovered: covered(since, pos), publications: [] } });
    else ch.waiting.set(tab, since);
  }

  function unsubscribe(tab: string, channel: string): void {
    const ch = chans.get(channel);
    if (!ch?.tabs.delete(tab)) return;
    ch.waiting.delete(tab);
    if (ch.tabs.size > 0) return;
    chans.delete(channel);
    ch.sub.unsubscribe();
  }

  function run(r: HubRequest): Promise<unknown> {
    const timeout = 'timeout' in r && r.timeout !== undefined ? { timeout: r.timeout } : {};
    switch (r.k) {
      case 'rpc':
        return core.rpc(r.method, r.params, timeout);
      case 'publish':
        return core.publish(r.channel, r.data, { key: r.key, ...timeout });
      case 'presence': {
        const ch = chans.get(r.channel);
        // The tab's Subscription unwraps `clients` itself, as from the server's reply.
        if (!ch) return Promise.reject(new Error(`not subscribed to "${r.channel}"`));
        return ch.sub.presence().then((clients) => ({ clients }));
      }
      case 'ping':
        return core.ping();
      default:
        return Promise.resolve(core.send(r.data));
    }
  }

  function request(tab: string, id: number, r: HubRequest): void {
    let p: Promise<unknown>;
    try {
      p = run(r);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (v) => say(tab, { t: 'res', id, ok: true, v }),
      (err) => say(tab, { t: 'res', id, ok: false, v: freeze(err) }),
    );
  }

  /** No tab wants the connection any more: close it (a later `connect` opens it again). */
  function settle(): void {
    if (!closed && core.state !== 'closed' && where((t) => t.connect).length === 0) core.close();
  }

  function leave(tab: string): void {
    if (!tabs.delete(tab)) return;
    for (const c of [...chans.keys()]) unsubscribe(tab, c);
    settle();
  }

  return {
    core,
    get size() {
      return tabs.size;
    },

    /** A message from `tab`. */
    receive(tab: string, msg: TabMessage): void {
      if (closed) return;
      const t = tabs.get(tab);
      if (msg.t === 'hi') {
        tabs.set(tab, { connect: msg.connect, want: msg.want });
        say(tab, stateOf());
        for (const s of msg.subs) subscribe(tab, s.c, s.since, s.h);
        if (msg.connect) core.connect().catch(noop);
        return;
      }
      if (!t) return; // a tab the hub has not met (it says hi first) or has let go
      switch (msg.t) {
        case 'connect':
          t.connect = true;
          say(tab, stateOf());
          core.connect().catch(noop);
          break;
        case 'bye':
          leave(tab);
          break;
        case 'reconnect':
          core.reconnect();
          break;
        case 'want':
          t.want = true;
          break;
        case 'sub':
          subscribe(tab, msg.c, msg.since, msg.h);
          break;
        case 'unsub':
          unsubscribe(tab, msg.c);
          break;
        case 'req':
          request(tab, msg.id, msg.r);
          break;
        case 'tok':
          tokens.answer(msg.id, msg.v, msg.err);
      }
    },

    /** The tab is gone (closed, crashed, or it said bye). */
    leave,

    /** The hub stops: its connection closes, the tabs are not told (a new hub takes them over). */
    close(): void {
      closed = true;
      clearInterval(ticker);
      tokens.close();
      core.close();
    },
  };
}
