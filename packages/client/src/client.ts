/**
 * `createClient`: one Tether connection that manages its own life — a state machine with one
 * writer (`setState`) and one exit funnel (`exit`). Each part owns its state in its own file:
 * options.ts, requests.ts (offline queue, requests that always settle), liveness.ts, handshake.ts,
 * inbound.ts, connect-params.ts, reconnect.ts, subscriptions.ts (recovery after a reconnect).
 * @module
 */
import { closeReaction, type WelcomeFrame } from '@tether/protocol';
import { ABNORMAL, NORMAL, UNAUTHORIZED } from './close-codes.js';
import { createConnectParams } from './connect-params.js';
import { deferred, noop } from './deferred.js';
import { Emitter } from './emitter.js';
import { DisconnectedError, TetherError } from './errors.js';
import { createHandshake } from './handshake.js';
import { createInbound } from './inbound.js';
import { createLiveness } from './liveness.js';
import { resolveOptions } from './options.js';
import { createReconnect } from './reconnect.js';
import { createRequests } from './requests.js';
import { type ClientState, canTransition } from './state.js';
import { randomKey } from './subscription.js';
import { createSubscriptions } from './subscriptions.js';
import type { Transport } from './transport.js';
import type { ClientEvents, ClientOptions, ClientStats, TetherClient } from './types.js';

// For code that imported the public types from this module.
export type * from './types.js';

/** How an exit ends: `kill` drops a dead socket at once; `stop` ends the client whatever the code's policy. */
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
  /** When the current connection opened; 0 while not open. */
  let openedAt = 0;
  let everOpened = false;
  /** A 4001 asked for a fresh token: the next attempt stops if the getter gives none. */
  let needToken = false;
  /** What `connect()` handed out: settles on the next open, or when the client stops. */
  let waiter: ReturnType<typeof deferred> | undefined;
  const stats: ClientStats = { rtt: undefined, reconnects: 0, queued: 0, lastClose: undefined };

  const shake = createHandshake(o, options.plain);
  const write = (data: string | Uint8Array): void => transport?.send(data);
  const isOpen = (): boolean => state === 'open';
  const requests = createRequests(o, live, () => state === 'closed', shake.encode, write);
  const liveness = createLiveness(
    o.heartbeat,
    isOpen,
    () => shake.plain,
    () => write(shake.encode(o.heartbeat.send?.())),
    (timeout) => requests.request({ type: 'ping' }, timeout).catch(noop),
    (code, reason) => exit(code, reason, 'kill'),
  );
  const params = createConnectParams(options, o.WebSocket, (token, connection) =>
    state === 'open' && openedAt === connection ? requests.request({ type: 'refresh', token }) : undefined,
  );
  const retry = createReconnect(
    o,
    attempt,
    () => live() && liveness.probe(),
    () => state,
    () => !!transport,
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

  const subs = createSubscriptions(requests, isOpen, () => isOpen() && !shake.plain);
  const inbound = createInbound(shake, liveness, requests, subs, emitter, stats, isOpen, ready, write);

  function ready(welcome?: WelcomeFrame): void {
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
    waiter?.settle();
    waiter = undefined;
  }

  async function attempt(): Promise<void> {
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
    shake.start(() => exit(ABNORMAL, 'connect timeout'));
    try {
      transport = params.open(token, shake.protocols(), {
        onOpen() {
          if (my !== gen) return;
          liveness.seen();
          shake.opened(ready);
        },
        onMessage: (data) => my === gen && inbound.receive(data),
        onClose: (code, reason) => my === gen && exit(code, reason),
        onError: () => my === gen && emitter.emit('error', new TetherError('ERR_TETHER_SOCKET', 'WebSocket error')),
      });
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
    for (const part of [shake, retry, liveness, params]) part.stop();
    const wasOpen = state === 'open';
    const policy = closeReaction(code);
    const stop = how === 'stop';
    if (!stop) {
      if (openedAt) retry.lasted(Date.now() - openedAt);
      // The next URL after an attempt that never opened, and after a close that asks to come back
      // soon (1001 going away, 1012 draining): that node refuses new connections for now.
      if (!(openedAt && policy.backoff !== 'quick')) params.rotate();
      if (policy.report) emitter.emit('error', new DisconnectedError(code, reason));
    }
    openedAt = 0;
    stats.lastClose = { code, reason };
    requests.dropped(code, reason);
    subs.dropped();
    // After a 4001 a token getter can be asked again; a static token cannot.
    const again =
      !stop && policy.reconnect && retry.allowed() && (!policy.refreshToken || typeof options.token === 'function');
    if (wasOpen || !again) emitter.emit('close', { code, reason, reconnect: again });
    if ((state as ClientState) === 'closed') return; // a listener closed the client
    if (!again) {
      // Terminal: the client stops, and every promise it handed out settles.
      retry.listen(false);
      const err = new DisconnectedError(code, reason);
      requests.fail(err);
      subs.dropped(err);
      setState('closed');
      waiter?.settle(err);
      waiter = undefined;
      return;
    }
    needToken ||= policy.refreshToken;
    const next = retry.next(policy.backoff);
    setState('reconnecting');
    if (state !== 'reconnecting') return;
    emitter.emit('reconnecting', { ...next, code });
    if ((state as ClientState) === 'reconnecting') retry.wait(next.delay);
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
      waiter ??= deferred();
      const { promise } = waiter;
      if (state === 'idle' || state === 'closed') {
        needToken = false;
        retry.listen(true);
        setState('connecting');
        void attempt();
      }
      return promise;
    },

    reconnect() {
      if (state === 'reconnecting') retry.now();
      else if (state === 'open') live() && liveness.probe();
      else if (state !== 'connecting') void this.connect().catch(noop);
    },

    close: () => exit(NORMAL, 'closed by client', 'stop'),
    send: (data) => requests.send(shake.encode(data)),
    rpc: <R>(method: string, params?: unknown, opts: { timeout?: number | string } = {}) =>
      requests.request<R>({ type: 'rpc', method, ...(params !== undefined && { params }) }, opts.timeout),
    publish: (channel, data, opts = {}) =>
      requests.request({ type: 'publish', channel, data, key: opts.key ?? randomKey() }, opts.timeout, 'resend'),

    subscribe: (channel, opts = {}) => subs.add(channel, opts),

    ping: () => inbound.ping(live()),
  };
}
