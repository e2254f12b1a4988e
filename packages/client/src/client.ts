/**
 * `createClient`: one Tether connection that manages its own life — a state machine with one
 * writer (`setState`) and one exit funnel (`handleDisconnect`), backoff per close code,
 * server-driven liveness checked against the wall clock, an offline queue, requests that always
 * settle, and subscriptions that recover after a reconnect.
 * @module
 */
import {
  type Codec,
  channelNameError,
  closePolicy,
  isServerFrame,
  jsonCodec,
  type PublishResult,
  type ServerFrame,
  type WelcomeFrame,
} from '@tether/protocol';
import { DEFAULT_RECONNECT, type ReconnectOptions, reconnectDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { DisconnectedError, QueueFullError, ServerError, TetherError, TimeoutError } from './errors.js';
import { type ClientState, TRANSITIONS } from './state.js';
import {
  type PublishOptions,
  randomKey,
  type SubscribeOptions,
  Subscription,
  type SubscriptionHost,
} from './subscription.js';
import { openTransport, type RawData, type Transport, type WebSocketConstructor } from './transport.js';

export interface HeartbeatOptions {
  /**
   * Silence (ms) tolerated beyond the server's ping interval before the connection counts as dead;
   * also how long a liveness probe may go unanswered.
   * @default the `welcome` frame's `heartbeat.timeout` (plain mode: 10000)
   */
  timeout?: number;
  /** Plain mode only: builds the frame sent every `interval`, e.g. `() => ({ type: 'heartbeat', timestamp: Date.now() })`. @default undefined (no client heartbeat, no silence deadline) */
  send?: () => unknown;
  /** Plain mode only: ms between heartbeat frames; silence of `interval + timeout` means dead. @default 30000 */
  interval?: number;
}

export interface ClientOptions {
  /** Server URL; several rotate on failure; a function is called on every attempt. */
  url: string | string[] | (() => string);
  /**
   * Token sent as the `token` query parameter. A function is called on every (re)connect and again
   * after a 4001 close; when it then rejects or returns nothing, the client stops.
   * @default undefined (no token)
   */
  token?: string | (() => string | null | undefined | Promise<string | null | undefined>);
  /** Backoff between attempts. @default { initialDelay: 500, maxDelay: 30000, factor: 2, jitter: 0.5, maxAttempts: Infinity } */
  reconnect?: Partial<ReconnectOptions>;
  heartbeat?: HeartbeatOptions;
  /** Frames buffered while not open, flushed in order after the next `welcome`. @default { max: 1000 } */
  queue?: { max?: number };
  /** Default timeout (ms) for `rpc`, `publish`, `subscribe`, `presence`, `ping`. @default 10000 */
  requestTimeout?: number;
  /** Time (ms) an attempt may take from socket creation to `welcome`. @default 10000 */
  connectTimeout?: number;
  /**
   * `'json'` or a Codec object. MessagePack is opt-in so the default bundle stays small:
   * `import { msgpackCodec } from '@tether/protocol/msgpack'`.
   * @default 'json'
   */
  codec?: 'json' | Codec;
  /** A WebSocket implementation for runtimes without a global one (Node 20: `WebSocket` from `ws`). @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor;
  /**
   * How long (ms) to wait after the socket opens for the server's `welcome` before assuming a plain
   * (non-Tether) server that selected our subprotocol anyway, as `ws` servers do by default.
   * @default 2000
   */
  welcomeTimeout?: number;
  /**
   * Node with `ws` only: send the token as an `Authorization: Bearer` header instead of the `token`
   * query parameter (keeps it out of URLs). Browsers cannot set WebSocket headers.
   * @default false
   */
  authHeader?: boolean;
  /** Skip the Tether handshake: offer no subprotocol and open as soon as the socket opens. @default false (detected) */
  plain?: boolean;
  /** Random source for backoff jitter (tests pin it). @default Math.random */
  random?: () => number;
}

export interface OpenContext {
  /** True when the server does not speak Tether (see "plain mode" in the README). */
  plain: boolean;
  /** The server's `welcome` (Tether mode). */
  welcome: WelcomeFrame | undefined;
}

export interface CloseContext {
  code: number;
  reason: string;
  /** Whether the client will try again. */
  reconnect: boolean;
}

export interface ReconnectingContext {
  /** 1 for the first retry in a row. */
  attempt: number;
  /** ms until the attempt (while the browser is offline, attempts wait for `online`). */
  delay: number;
  /** The close code that caused it. */
  code: number;
}

export interface ClientStats {
  /** Round-trip time (ms) of the last `ping()`. */
  rtt: number | undefined;
  /** Successful reconnections since creation. */
  reconnects: number;
  /** Frames waiting in the offline queue. */
  queued: number;
  lastClose: { code: number; reason: string } | undefined;
}

export type ClientEvents = {
  state: [next: ClientState, prev: ClientState];
  open: [OpenContext];
  /** A connection that was open has closed, or the client stopped for good. */
  close: [CloseContext];
  /** Every inbound frame except `welcome`/`ping`/`pong`/`reply`: parsed JSON, or the raw string. */
  message: [unknown];
  /** Diagnostics: socket errors, server `error` frames, reported close codes, listener exceptions. */
  error: [unknown];
  reconnecting: [ReconnectingContext];
};

export interface TetherClient {
  readonly state: ClientState;
  /** True from a liveness probe (tab visible again, `pageshow`, `online`) until the server answers. */
  readonly stale: boolean;
  /** True when connected to a server that does not speak Tether. */
  readonly plain: boolean;
  readonly stats: ClientStats;
  on: Emitter<ClientEvents>['on'];
  once: Emitter<ClientEvents>['once'];
  off: Emitter<ClientEvents>['off'];
  listenerCount: Emitter<ClientEvents>['listenerCount'];
  /** Idempotent. Resolves on `welcome` (plain: on open); rejects only when the client gives up. */
  connect(): Promise<void>;
  /** Closes with 1000 and stops: no reconnect, every timer and listener cleared, pending requests rejected. */
  close(): void;
  /** Sends a raw frame (strings as they are, objects encoded). Returns false when it was queued. Throws `QueueFullError`. */
  send(data: unknown): boolean;
  rpc<R = unknown>(method: string, params?: unknown, options?: { timeout?: number }): Promise<R>;
  /** Publishes with an idempotency key, so it is resent after a reconnect without doubling. */
  publish(channel: string, data: unknown, options?: PublishOptions): Promise<PublishResult>;
  subscribe<D = unknown>(channel: string, options?: SubscribeOptions<D>): Subscription<D>;
  /** Resolves with the round-trip time in ms. */
  ping(): Promise<number>;
}

/** A welcomed connection that lasted this long (ms) resets the attempt count. */
export const HEALTHY_AFTER = 5000;

const noop = (): void => {};
const SAFE = 1;
const SUB = 2;

interface Pending {
  id: number;
  data: string | Uint8Array;
  /** 0: reject on disconnect; SAFE: resend after reconnect; SUB: dropped, the subscription resends. */
  kind: number;
  sent: boolean;
  timer: ReturnType<typeof setTimeout>;
  done(ok: boolean, value: unknown): void;
}

type Outgoing = Pending | { raw: string | Uint8Array };

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

type GlobalScope = {
  addEventListener?: (type: string, fn: () => void) => void;
  removeEventListener?: (type: string, fn: () => void) => void;
  document?: { visibilityState?: string };
  WebSocket?: WebSocketConstructor;
};

/**
 * Creates a client. Nothing happens until `connect()`.
 * @example
 * const client = createClient({ url: 'ws://localhost:8088/ws', token: () => getToken() })
 * await client.connect()
 * client.subscribe('room:lobby', { onMessage: (m) => render(m) })
 */
export function createClient(options: ClientOptions): TetherClient {
  const g = globalThis as GlobalScope;
  const WS = options.WebSocket ?? g.WebSocket;
  if (!WS)
    throw new TypeError(
      'tether: no WebSocket implementation; pass `WebSocket` from the `ws` package on Node 20: createClient({ url, WebSocket })',
    );
  if (!options.url) throw new TypeError('tether: the `url` option is required');
  const codec = options.codec;
  if (codec !== undefined && codec !== 'json' && typeof codec?.encode !== 'function')
    throw new TypeError(
      'tether: `codec` must be "json" or a Codec object; for MessagePack pass `msgpackCodec` from "@tether/protocol/msgpack"',
    );
  const wire: Codec = codec === undefined || codec === 'json' ? jsonCodec : codec;
  const ro: ReconnectOptions = { ...DEFAULT_RECONNECT, ...options.reconnect };
  const hb = options.heartbeat ?? {};
  const queueMax = options.queue?.max ?? 1000;
  const requestTimeout = options.requestTimeout ?? 10_000;
  const connectTimeout = options.connectTimeout ?? 10_000;
  const random = options.random ?? Math.random;
  const emitter = new Emitter<ClientEvents>();

  let state: ClientState = 'idle';
  // Bumped for every socket and every exit; callbacks from an older generation are ignored.
  let gen = 0;
  let transport: Transport | undefined;
  let plain = false;
  let attempts = 0;
  let urlIndex = 0;
  let openedAt = 0;
  let lastSeen = 0;
  /** Silence (ms) after which the connection is dead; 0: no deadline. */
  let limit = 0;
  let probeTimeout = 10_000;
  let stale = false;
  let paused = false;
  let needToken = false;
  let everOpened = false;
  /** Plain mode was a guess on a `tether.v1*` socket (no welcome yet): a late welcome still upgrades it. */
  let guessed = false;
  let tetherSocket = false;
  let listening = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let connectTimer: ReturnType<typeof setTimeout> | undefined;
  let watchTimer: ReturnType<typeof setTimeout> | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let seq = 0;
  let waiter: Deferred | undefined;
  let outbox: Outgoing[] = [];
  const pending = new Map<number, Pending>();
  const subs = new Map<string, Subscription>();
  const stats: ClientStats = { rtt: undefined, reconnects: 0, queued: 0, lastClose: undefined };

  function setState(next: ClientState): void {
    const prev = state;
    if (prev === next) return;
    if (!TRANSITIONS[prev].includes(next)) throw new Error(`tether: illegal transition ${prev} -> ${next}`);
    state = next;
    emitter.emit('state', next, prev);
  }

  const encode = (x: unknown): string | Uint8Array =>
    typeof x === 'string' || x instanceof Uint8Array ? x : plain ? JSON.stringify(x) : wire.encode(x as object);

  const clearTimers = (): void => {
    for (const t of [retryTimer, connectTimer, watchTimer, probeTimer, refreshTimer]) clearTimeout(t);
    retryTimer = undefined;
  };

  /** Open and verified against the wall clock: after a sleep or throttled stretch, silence is noticed here first. */
  function live(): boolean {
    if (state === 'open' && limit && Date.now() - lastSeen >= limit) handleDisconnect(4010, 'heartbeat timeout', true);
    // A closing socket still counts as open until its close event; what it is given would be lost.
    return state === 'open' && !!transport?.isOpen();
  }

  function command(body: object, timeout: number, kind: number, done: Pending['done']): void {
    if (state === 'closed') {
      done(false, new DisconnectedError(1000, 'client is closed'));
      return;
    }
    const id = ++seq;
    const p: Pending = {
      id,
      data: encode({ ...body, id }),
      kind,
      sent: false,
      done,
      timer: setTimeout(() => {
        pending.delete(id);
        outbox = outbox.filter((o) => o !== p);
        done(false, new TimeoutError(`no reply within ${timeout} ms`));
      }, timeout),
    };
    if (kind === SUB || live()) {
      transport?.send(p.data);
      p.sent = true;
    } else if (outbox.length >= queueMax) {
      clearTimeout(p.timer);
      done(false, new QueueFullError(queueMax));
      return;
    } else outbox.push(p);
    pending.set(id, p);
  }

  const request = <R>(body: object, timeout = requestTimeout, kind = 0): Promise<R> =>
    new Promise((resolve, reject) => command(body, timeout, kind, (ok, v) => (ok ? resolve(v as R) : reject(v))));

  function settle(id: number | undefined, ok: boolean, value: unknown): void {
    const p = pending.get(id as number);
    if (!p) return;
    pending.delete(id as number);
    clearTimeout(p.timer);
    p.done(ok, value);
  }

  const subscribeNow = (sub: Subscription): void =>
    command(sub.frame(), requestTimeout, SUB, (ok, v) => sub.applyReply(ok, v));

  const host: SubscriptionHost = {
    open: () => state === 'open',
    remove: (sub) => subs.get(sub.channel) === sub && subs.delete(sub.channel),
    request,
  };

  /**
   * Sends `refresh` with a fresh token when 90% of the token's life has passed, so the server never
   * closes with 4001. A failure is left to that close: the reconnect then fetches a token anyway.
   */
  function refreshBefore(expiresAt: number | undefined): void {
    const t = options.token;
    const delay = 0.9 * ((expiresAt ?? 0) - Date.now());
    // setTimeout fires at once past 2^31-1 ms; a token that lives longer than ~24 days is not refreshed.
    if (!expiresAt || typeof t !== 'function' || delay > 2 ** 31 - 1) return;
    const connection = openedAt;
    refreshTimer = setTimeout(
      async () => {
        try {
          const token = await t();
          // The getter may have been slow: refresh only the connection this timer was set for.
          if (token && state === 'open' && openedAt === connection)
            refreshBefore((await request<{ expiresAt?: number }>({ type: 'refresh', token })).expiresAt);
        } catch {}
      },
      Math.max(1000, delay),
    );
  }

  function ready(welcome?: WelcomeFrame): void {
    clearTimeout(connectTimer);
    plain = !welcome;
    openedAt = lastSeen = Date.now();
    probeTimeout = hb.timeout ?? welcome?.heartbeat.timeout ?? 10_000;
    limit = welcome ? welcome.heartbeat.interval + probeTimeout : hb.send ? (hb.interval ?? 30_000) + probeTimeout : 0;
    needToken = false;
    guessed = !welcome && tetherSocket;
    if (everOpened && state !== 'open') stats.reconnects++;
    everOpened = true;
    // Order matters: subscriptions first, so queued publishes land after them; then resends and
    // the offline queue in call order — all before `open` listeners can send anything new.
    if (welcome) for (const sub of subs.values()) subscribeNow(sub);
    for (const o of outbox) {
      if ('raw' in o) transport?.send(o.raw);
      else if (pending.get(o.id) === o) {
        transport?.send(o.data);
        o.sent = true;
      }
    }
    outbox = [];
    setState('open');
    if (state !== 'open') return;
    watch();
    refreshBefore(welcome?.expiresAt);
    emitter.emit('open', { plain, welcome });
    waiter?.resolve();
    waiter = undefined;
  }

  /** The liveness watchdog: wakes at the deadline (plain heartbeat: every interval) and checks the wall clock. */
  function watch(): void {
    clearTimeout(watchTimer);
    if (state !== 'open' || !limit) return;
    const wait = plain ? (hb.interval ?? 30_000) : lastSeen + limit - Date.now();
    watchTimer = setTimeout(
      () => {
        if (!live()) return;
        if (plain) transport?.send(encode(hb.send?.()));
        watch();
      },
      Math.max(wait, 1),
    );
  }

  function receive(data: RawData): void {
    lastSeen = Date.now();
    if (stale) {
      stale = false;
      clearTimeout(probeTimer);
    }
    let value: unknown = data;
    try {
      value =
        typeof data === 'string'
          ? wire.binary
            ? JSON.parse(data)
            : wire.decode(data)
          : wire.binary
            ? wire.decode(new Uint8Array(data))
            : data;
    } catch {
      // Not JSON: delivered as the raw string, as the original WebSocketManager did.
    }
    if (!plain || guessed) {
      if (isServerFrame(value)) {
        frame(value);
        return;
      }
      // Not a Tether frame. Before any welcome it means the server does not speak Tether
      // (`ws` servers select the first offered subprotocol even when they know nothing of it).
      if (state !== 'open') ready();
    }
    emitter.emit('message', value);
  }

  function frame(f: ServerFrame): void {
    switch (f.type) {
      case 'welcome':
        if (state !== 'open' || plain) ready(f);
        return;
      case 'ping':
        transport?.send(encode({ type: 'pong' }));
        return;
      case 'pong':
        settle(f.id, true, undefined);
        return;
      case 'reply':
        settle(f.id, f.ok, f.ok ? f.result : new ServerError(f.error.code, f.error.message));
        return;
      case 'message':
        subs.get(f.channel)?.applyMessage(f);
        break;
      case 'join':
      case 'leave':
        subs.get(f.channel)?.applyPresence(f.type, f);
        break;
      case 'unsubscribed':
        subs.get(f.channel)?.ended(f.reason);
        break;
      case 'error':
        emitter.emit('error', new ServerError(f.error.code, f.error.message));
    }
    emitter.emit('message', f);
  }

  async function attempt(): Promise<void> {
    retryTimer = undefined;
    const my = ++gen;
    const t = options.token;
    let token: string | null | undefined;
    try {
      token = typeof t === 'function' ? await t() : t;
    } catch (err) {
      if (my !== gen) return;
      emitter.emit('error', err);
      return needToken ? finish(4001, 'token getter failed') : handleDisconnect(1006, 'token getter failed');
    }
    if (my !== gen) return;
    if (needToken && !token) return finish(4001, 'no fresh token');
    const u = options.url;
    let url = typeof u === 'function' ? u() : Array.isArray(u) ? (u[urlIndex % u.length] as string) : u;
    const header = token && options.authHeader ? { Authorization: `Bearer ${token}` } : undefined;
    if (token && !header) url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
    connectTimer = setTimeout(() => handleDisconnect(1006, 'connect timeout'), connectTimeout);
    try {
      transport = openTransport(
        WS as WebSocketConstructor,
        url,
        options.plain ? [] : [wire.name],
        {
          onOpen(protocol) {
            if (my !== gen) return;
            lastSeen = Date.now();
            tetherSocket = protocol.startsWith('tether.v1');
            if (!tetherSocket) {
              ready();
              return;
            }
            // A Tether server welcomes at once; `ws`-based plain servers echo our subprotocol but
            // may never speak first, so silence after open means plain mode.
            clearTimeout(connectTimer);
            connectTimer = setTimeout(ready, options.welcomeTimeout ?? 2000);
          },
          onMessage: (data) => my === gen && receive(data),
          onClose: (code, reason) => my === gen && handleDisconnect(code, reason),
          onError: () => my === gen && emitter.emit('error', new TetherError('ERR_TETHER_SOCKET', 'WebSocket error')),
        },
        header,
      );
    } catch (err) {
      // A malformed URL: no retry can fix it.
      emitter.emit('error', err);
      finish(1006, String(err));
    }
  }

  /** The one exit funnel: every way of losing the connection comes through here. */
  function handleDisconnect(code: number, reason: string, kill = false): void {
    if (state === 'closed') return;
    gen++;
    transport?.close(code, reason, kill);
    transport = undefined;
    clearTimers();
    stale = false;
    const wasOpen = state === 'open';
    if (!openedAt) urlIndex++;
    else if (Date.now() - openedAt >= HEALTHY_AFTER) attempts = 0;
    openedAt = 0;
    stats.lastClose = { code, reason };
    const resend: Pending[] = [];
    for (const [id, p] of pending) {
      if (!p.sent) continue;
      if (p.kind === SAFE) {
        p.sent = false;
        resend.push(p);
      } else {
        pending.delete(id);
        clearTimeout(p.timer);
        if (p.kind !== SUB) p.done(false, new DisconnectedError(code, reason));
      }
    }
    outbox.unshift(...resend);
    for (const sub of subs.values()) sub.reset();
    const policy = closePolicy(code);
    if (policy.report) emitter.emit('error', new DisconnectedError(code, reason));
    const retry =
      policy.reconnect && attempts < ro.maxAttempts && !(policy.refreshToken && typeof options.token !== 'function');
    if (wasOpen || !retry) emitter.emit('close', { code, reason, reconnect: retry });
    if ((state as ClientState) === 'closed') return; // a listener closed the client
    if (!retry) {
      finish(code, reason);
      return;
    }
    needToken ||= policy.refreshToken;
    attempts++;
    const delay = reconnectDelay(policy.backoff, attempts, ro, random);
    setState('reconnecting');
    if (state !== 'reconnecting') return;
    emitter.emit('reconnecting', { attempt: attempts, delay, code });
    if (!paused && (state as ClientState) === 'reconnecting' && !retryTimer) retryTimer = setTimeout(attempt, delay);
  }

  /** Terminal: the client stops, and every promise it handed out settles. */
  function finish(code: number, reason: string): void {
    gen++;
    transport?.close(code, reason);
    transport = undefined;
    clearTimers();
    listen(false);
    const err = new DisconnectedError(code, reason);
    const all = [...pending.values()];
    pending.clear();
    outbox = [];
    for (const p of all) {
      clearTimeout(p.timer);
      if (p.kind !== SUB) p.done(false, err);
    }
    for (const sub of subs.values()) sub.closed(err);
    setState('closed');
    waiter?.reject(err);
    waiter = undefined;
  }

  /** Browser hints: back online, tab visible again, page restored — verify at once instead of trusting. */
  function probe(): void {
    if (state === 'reconnecting') {
      if (retryTimer && !paused) {
        clearTimeout(retryTimer);
        void attempt();
      }
      return;
    }
    if (!live() || stale || (plain && !hb.send)) return;
    stale = true;
    if (plain) transport?.send(encode(hb.send?.()));
    else command({ type: 'ping' }, probeTimeout, 0, noop);
    probeTimer = setTimeout(() => handleDisconnect(4010, 'no answer to liveness probe', true), probeTimeout);
  }

  const onOnline = (): void => {
    paused = false;
    if (state === 'reconnecting' && !retryTimer && !transport) retryTimer = setTimeout(attempt, 0);
    probe();
  };
  const onOffline = (): void => {
    paused = true;
    if (retryTimer) clearTimeout(retryTimer);
  };
  const onVisible = (): void => {
    if (g.document?.visibilityState !== 'hidden') probe();
  };
  const GLOBAL_EVENTS: [string, () => void][] = [
    ['online', onOnline],
    ['offline', onOffline],
    ['visibilitychange', onVisible],
    ['pageshow', onVisible],
  ];

  function listen(on: boolean): void {
    const fn = on ? g.addEventListener : g.removeEventListener;
    if (!fn || listening === on) return;
    listening = on;
    for (const [type, handler] of GLOBAL_EVENTS) fn.call(globalThis, type, handler);
  }

  return {
    get state() {
      return state;
    },
    get stale() {
      return stale;
    },
    get plain() {
      return plain;
    },
    get stats() {
      return { ...stats, queued: outbox.length };
    },
    on: emitter.on.bind(emitter),
    once: emitter.once.bind(emitter),
    off: emitter.off.bind(emitter),
    listenerCount: emitter.listenerCount.bind(emitter),

    connect() {
      if (state === 'open') return Promise.resolve();
      if (!waiter) {
        let resolve = noop;
        let reject: (err: unknown) => void = noop;
        const promise = new Promise<void>((a, b) => {
          resolve = a;
          reject = b;
        });
        // A caller that does not await connect() must not get an unhandled rejection.
        promise.catch(noop);
        waiter = { promise, resolve, reject };
      }
      const { promise } = waiter;
      if (state === 'idle' || state === 'closed') {
        attempts = 0;
        paused = needToken = false;
        listen(true);
        setState('connecting');
        void attempt();
      }
      return promise;
    },

    close() {
      if (state === 'idle') finish(1000, 'closed by client');
      else handleDisconnect(1000, 'closed by client');
    },

    send(data) {
      const encoded = encode(data);
      if (live()) {
        transport?.send(encoded);
        return true;
      }
      if (outbox.length >= queueMax) throw new QueueFullError(queueMax);
      outbox.push({ raw: encoded });
      return false;
    },

    rpc: <R>(method: string, params?: unknown, opts: { timeout?: number } = {}) =>
      request<R>({ type: 'rpc', method, ...(params !== undefined && { params }) }, opts.timeout),

    publish: (channel, data, opts = {}) =>
      request({ type: 'publish', channel, data, key: opts.key ?? randomKey() }, opts.timeout, SAFE),

    subscribe<D>(channel: string, opts: SubscribeOptions<D> = {}) {
      const why = channelNameError(channel);
      if (why) throw new TypeError(`tether: ${why}`);
      if (subs.has(channel))
        throw new TypeError(`tether: already subscribed to "${channel}"; reuse that Subscription or unsubscribe() it`);
      const sub = new Subscription<D>(host, channel, opts);
      subs.set(channel, sub as unknown as Subscription);
      if (state === 'open' && !plain) subscribeNow(sub as unknown as Subscription);
      return sub;
    },

    ping() {
      if (!live() || plain)
        return Promise.reject(
          new DisconnectedError(stats.lastClose?.code ?? 1006, 'ping needs an open Tether connection'),
        );
      const start = Date.now();
      return request({ type: 'ping' }).then(() => {
        stats.rtt = Date.now() - start;
        return stats.rtt;
      });
    },
  };
}
