/**
 * `createClient`: one Tether connection that manages its own life — a state machine with one
 * writer (`setState`) and one exit funnel (`exit`), backoff per close code, server-driven liveness
 * checked against the wall clock, an offline queue, requests that always settle, and subscriptions
 * that recover after a reconnect. The parts live beside it: options and defaults (`options.ts`),
 * requests and the queue (`requests.ts`), liveness (`liveness.ts`), the handshake and wire format
 * (`handshake.ts`), URL and token per attempt (`connect-params.ts`), browser hints (`network.ts`).
 * @module
 */
import { closePolicy, isServerFrame, type ServerFrame, type WelcomeFrame } from '@tether/protocol';
import { reconnectDelay } from './backoff.js';
import { ABNORMAL, NORMAL, UNAUTHORIZED } from './close-codes.js';
import { createConnectParams } from './connect-params.js';
import { Emitter } from './emitter.js';
import { DisconnectedError, ServerError, TetherError } from './errors.js';
import { createHandshake } from './handshake.js';
import { createLiveness } from './liveness.js';
import { createNetwork } from './network.js';
import { resolveOptions } from './options.js';
import { createRequests } from './requests.js';
import { type ClientState, canTransition } from './state.js';
import { randomKey } from './subscription.js';
import { createSubscriptions } from './subscriptions.js';
import { openTransport, type RawData, type Transport } from './transport.js';
import type { ClientEvents, ClientOptions, ClientStats, TetherClient } from './types.js';

// The public types live in types.ts; re-exported here for code that imported them from this module.
export type * from './types.js';

/** A welcomed connection that lasted this long (ms) resets the attempt count. */
export const HEALTHY_AFTER = 5000;

const noop = (): void => {};

/**
 * How an exit ends: `kill` drops a dead socket at once (no close handshake); `stop` ends the
 * client whatever the close code's policy says.
 */
type ExitHow = 'kill' | 'stop';

/**
 * Creates a client. Nothing happens until `connect()`.
 * @example
 * const client = createClient({ url: 'ws://localhost:8088/ws', token: () => getToken() })
 * await client.connect()
 * client.subscribe('room:lobby', { onMessage: (m) => render(m) })
 */
export function createClient(options: ClientOptions): TetherClient {
  const o = resolveOptions(options);
  const emitter = new Emitter<ClientEvents>();
  let state: ClientState = 'idle';
  // Bumped for every socket and every exit; callbacks from an older generation are ignored.
  let gen = 0;
  let transport: Transport | undefined;
  let attempts = 0;
  /** When the current connection opened; 0 while not open. */
  let openedAt = 0;
  let everOpened = false;
  /** A 4001 asked for a fresh token: the next attempt stops if the getter gives none. */
  let needToken = false;
  /** The next attempt (reconnect backoff) or the connect/welcome deadline of this one. */
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let connectTimer: ReturnType<typeof setTimeout> | undefined;
  /** What `connect()` handed out: settles on the next open, or when the client stops. */
  let waiter: { promise: Promise<void>; settle(err?: unknown): void } | undefined;
  const stats: ClientStats = { rtt: undefined, reconnects: 0, queued: 0, lastClose: undefined };

  const shake = createHandshake(o.codec, options.plain);
  const write = (data: string | Uint8Array): void => transport?.send(data);
  const isOpen = (): boolean => state === 'open';
  const requests = createRequests(o, live, () => state === 'closed', shake.encode, write);
  const liveness = createLiveness(
    o.heartbeat,
    isOpen,
    () => shake.plain,
    () => write(shake.encode(o.heartbeat.send?.())),
    (timeout) => requests.command({ type: 'ping' }, timeout, 'once', noop),
    (code, reason) => exit(code, reason, 'kill'),
  );
  const params = createConnectParams(options, (token, connection) =>
    state === 'open' && openedAt === connection ? requests.request({ type: 'refresh', token }) : undefined,
  );
  const network = createNetwork(
    () => {
      if (state === 'reconnecting' && !retryTimer && !transport) retryTimer = setTimeout(attempt, 0);
      probe();
    },
    () => clearTimeout(retryTimer),
    probe,
  );

  function setState(next: ClientState): void {
    const prev = state;
    if (prev === next) return;
    if (!canTransition(prev, next)) throw new Error(`tether: illegal transition ${prev} -> ${next}`);
    state = next;
    emitter.emit('state', next, prev);
  }

  /** Open and verified against the wall clock: after a sleep or throttled stretch, silence is noticed here first. */
  function live(): boolean {
    liveness.check();
    // A closing socket still counts as open until its close event; what it is given would be lost.
    return state === 'open' && !!transport?.isOpen();
  }

  const subs = createSubscriptions(requests, o.requestTimeout, isOpen, () => isOpen() && !shake.plain);

  function ready(welcome?: WelcomeFrame): void {
    clearTimeout(connectTimer);
    shake.ready(!!welcome);
    liveness.start(welcome);
    openedAt = Date.now();
    needToken = false;
    if (everOpened && state !== 'open') stats.reconnects++;
    everOpened = true;
    // Order matters: subscriptions first, so queued publishes land after them; then resends and
    // the offline queue in call order — all before `open` listeners can send anything new.
    if (welcome) subs.resubscribe();
    requests.flush();
    setState('open');
    if (state !== 'open') return;
    liveness.watch();
    params.refreshBefore(welcome?.expiresAt, openedAt);
    emitter.emit('open', { plain: shake.plain, welcome });
    settleWaiter();
  }

  function settleWaiter(err?: unknown): void {
    waiter?.settle(err);
    waiter = undefined;
  }

  function receive(data: RawData): void {
    liveness.seen();
    const value = shake.decode(data);
    if (shake.framed()) {
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
        if (state !== 'open' || shake.plain) ready(f);
        return;
      case 'ping':
        write(shake.encode({ type: 'pong' }));
        return;
      case 'pong':
        requests.settle(f.id, true, undefined);
        return;
      case 'reply':
        requests.settle(f.id, f.ok, f.ok ? f.result : new ServerError(f.error.code, f.error.message));
        return;
      case 'error':
        emitter.emit('error', new ServerError(f.error.code, f.error.message));
        break;
      default:
        subs.route(f);
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
      return needToken ? exit(UNAUTHORIZED, 'token getter failed', 'stop') : exit(ABNORMAL, 'token getter failed');
    }
    if (my !== gen) return;
    if (needToken && !token) return exit(UNAUTHORIZED, 'no fresh token', 'stop');
    const { url, headers } = params.target(token);
    connectTimer = setTimeout(() => exit(ABNORMAL, 'connect timeout'), o.connectTimeout);
    try {
      transport = openTransport(
        o.WebSocket,
        url,
        shake.protocols(),
        {
          onOpen(protocol) {
            if (my !== gen) return;
            liveness.seen();
            if (!shake.opened(protocol)) return ready();
            // A Tether server welcomes at once; `ws`-based plain servers echo our subprotocol but
            // may never speak first, so silence after open means plain mode.
            clearTimeout(connectTimer);
            connectTimer = setTimeout(ready, o.welcomeTimeout);
          },
          onMessage: (data) => my === gen && receive(data),
          onClose: (code, reason) => my === gen && exit(code, reason),
          onError: () => my === gen && emitter.emit('error', new TetherError('ERR_TETHER_SOCKET', 'WebSocket error')),
        },
        headers,
      );
    } catch (err) {
      // A malformed URL: no retry can fix it.
      emitter.emit('error', err);
      exit(ABNORMAL, String(err), 'stop');
    }
  }

  /**
   * The one exit funnel: every way of losing the connection, and every way of stopping, comes
   * through here. Listeners hear `close` for every open connection that closed, and exactly once
   * with `reconnect: false` when the client stops.
   */
  function exit(code: number, reason: string, how?: ExitHow): void {
    if (state === 'closed') return;
    gen++;
    transport?.close(code, reason, how === 'kill');
    transport = undefined;
    clearTimeout(retryTimer);
    clearTimeout(connectTimer);
    retryTimer = undefined;
    liveness.stop();
    params.stop();
    const wasOpen = state === 'open';
    const policy = closePolicy(code);
    const stop = how === 'stop';
    if (!stop) {
      if (!openedAt) params.rotate();
      else if (Date.now() - openedAt >= HEALTHY_AFTER) attempts = 0;
      if (policy.report) emitter.emit('error', new DisconnectedError(code, reason));
    }
    openedAt = 0;
    stats.lastClose = { code, reason };
    requests.dropped(code, reason);
    subs.dropped();
    const retry =
      !stop && policy.reconnect && attempts < o.reconnect.maxAttempts && (!policy.refreshToken || params.refreshable);
    if (wasOpen || !retry) emitter.emit('close', { code, reason, reconnect: retry });
    if ((state as ClientState) === 'closed') return; // a listener closed the client
    if (!retry) {
      // Terminal: the client stops, and every promise it handed out settles.
      network.listen(false);
      const err = new DisconnectedError(code, reason);
      requests.fail(err);
      subs.dropped(err);
      setState('closed');
      settleWaiter(err);
      return;
    }
    needToken ||= policy.refreshToken;
    attempts++;
    const delay = reconnectDelay(policy.backoff, attempts, o.reconnect, o.random);
    setState('reconnecting');
    if (state !== 'reconnecting') return;
    emitter.emit('reconnecting', { attempt: attempts, delay, code });
    if (!network.offline && (state as ClientState) === 'reconnecting' && !retryTimer)
      retryTimer = setTimeout(attempt, delay);
  }

  /** Browser hints: back online, tab visible again, page restored — verify at once instead of trusting. */
  function probe(): void {
    if (state === 'reconnecting') {
      if (retryTimer && !network.offline) {
        clearTimeout(retryTimer);
        void attempt();
      }
      return;
    }
    if (live()) liveness.probe();
  }

  return {
    get state() {
      return state;
    },
    get stale() {
      return liveness.stale;
    },
    get plain() {
      return shake.plain;
    },
    get stats() {
      return { ...stats, queued: requests.queued() };
    },
    on: emitter.on.bind(emitter),
    once: emitter.once.bind(emitter),
    off: emitter.off.bind(emitter),
    listenerCount: emitter.listenerCount.bind(emitter),

    connect() {
      if (state === 'open') return Promise.resolve();
      if (!waiter) {
        let settle: (err?: unknown) => void = noop;
        const promise = new Promise<void>((resolve, reject) => {
          settle = (err) => (err ? reject(err) : resolve());
        });
        // A caller that does not await connect() must not get an unhandled rejection.
        promise.catch(noop);
        waiter = { promise, settle };
      }
      const { promise } = waiter;
      if (state === 'idle' || state === 'closed') {
        attempts = 0;
        needToken = false;
        network.listen(true);
        setState('connecting');
        void attempt();
      }
      return promise;
    },

    close: () => exit(NORMAL, 'closed by client', 'stop'),
    send: (data) => requests.send(shake.encode(data)),
    rpc: <R>(method: string, params?: unknown, opts: { timeout?: number | string } = {}) =>
      requests.request<R>({ type: 'rpc', method, ...(params !== undefined && { params }) }, opts.timeout),
    publish: (channel, data, opts = {}) =>
      requests.request({ type: 'publish', channel, data, key: opts.key ?? randomKey() }, opts.timeout, 'resend'),

    subscribe: (channel, opts = {}) => subs.add(channel, opts),

    ping() {
      if (!live() || shake.plain)
        return Promise.reject(
          new DisconnectedError(stats.lastClose?.code ?? ABNORMAL, 'ping needs an open Tether connection'),
        );
      const start = Date.now();
      return requests.request({ type: 'ping' }).then(() => {
        stats.rtt = Date.now() - start;
        return stats.rtt;
      });
    },
  };
}
