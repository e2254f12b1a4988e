/**
 * Frame intake and the command handlers: rate limits and decoding, then one handler per client
 * command in a table keyed by frame type, each answered by exactly one `reply`.
 * @module
 */
import type { PresenceStore } from '@tether/broker';
import {
  type ClientFrame,
  type CommandFrame,
  decodeClientFrame,
  type RefreshFrame,
  type RefreshResult,
  type RpcFrame,
} from '@tether/protocol';
import type { RawData } from 'ws';
import { checkAccess, claimAllows } from './access.js';
import { AuthError, type Authenticator } from './auth.js';
import type { Channels } from './channels.js';
import { toErrorBody } from './errors.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import type { ChannelPolicy, Namespaces } from './namespaces.js';
import type { AuthorizeHook, ChannelAction, RpcHandler } from './options.js';
import { presencePage } from './presence-page.js';
import type { Publisher } from './publishing.js';
import { RpcError } from './rpc-error.js';
import type { Session } from './session.js';

/** What the handlers work with. */
export interface CommandContext {
  logger: Logger;
  metrics: ServerMetrics;
  ns: Namespaces;
  channels: Channels;
  publisher: Publisher;
  presence: PresenceStore;
  auth: Authenticator;
  /** The most entries one `presence` reply carries. */
  maxPresencePage: number;
  rpcs: ReadonlyMap<string, RpcHandler>;
  /** In ms. */
  rpcTimeout: number;
  authorize: AuthorizeHook | undefined;
}

/** A command's answer: the reply's `result`, and what must happen right after the reply was sent. */
export interface Answer {
  result: unknown;
  /** Runs in the same synchronous block as sending the reply (subscribe goes live there). */
  afterReply?: () => void;
}

export type CommandType = CommandFrame['type'];
/** A handler answers now (an RPC whose method settled synchronously) or later; a throw is a failed reply. */
export type Handler<T extends CommandType> = (
  s: Session,
  f: Extract<CommandFrame, { type: T }>,
) => Answer | Promise<Answer>;
/** One handler per command frame type: a new command type does not compile until it has one. */
export type CommandTable = { [T in CommandType]: Handler<T> };

/** The handler of every command frame. A rejection becomes the failed reply (see `toErrorBody`). */
export function commandTable(c: CommandContext): CommandTable {
  const access = (s: Session, channel: string, action: ChannelAction, policy: ChannelPolicy): Promise<void> =>
    checkAccess(policy, s.context(), channel, action, c.channels.has(s, channel), c.authorize);
  return {
    subscribe: async (s, f) => {
      const policy = c.ns.policy(f.channel);
      await access(s, f.channel, 'subscribe', policy);
      const { result, goLive } = await c.channels.subscribe(s, f, policy.presence);
      return { result, afterReply: goLive };
    },
    unsubscribe: async (s, f) => {
      c.channels.remove(s, f.channel);
      return { result: {} };
    },
    publish: async (s, f) => {
      await c.channels.whenSubscribed(s, f.channel);
      const policy = c.ns.policy(f.channel);
      await access(s, f.channel, 'publish', policy);
      return { result: await c.publisher.store('client', f.channel, f.data, policy, { key: f.key, from: s.user }) };
    },
    presence: async (s, f) => {
      const policy = c.ns.policy(f.channel);
      await access(s, f.channel, 'presence', policy);
      if (!policy.presence) throw new RpcError('bad_request', `presence is off for "${f.channel}"`);
      return { result: await presencePage(c.presence, f.channel, f, c.maxPresencePage) };
    },
    rpc: (s, f) => runRpc(c, s, f),
    refresh: async (s, f) => ({ result: await refresh(c, s, f) }),
  };
}

const rpcAnswer = (result: unknown): Answer => ({ result: result === undefined ? null : result });

/**
 * Runs an RPC handler. One that returns a value is answered at once — no promise, no timer (the
 * hot path of a request/response app); one that returns a promise is answered when it settles,
 * or with `timeout` after `rpcTimeout`.
 */
function runRpc(c: CommandContext, s: Session, f: RpcFrame): Answer | Promise<Answer> {
  const handler = c.rpcs.get(f.method);
  if (!handler) throw new RpcError('not_found', `no RPC method "${f.method}"`);
  const out = handler(f.params, s.context());
  if (!isThenable(out)) return rpcAnswer(out);
  const running = Promise.resolve(out);
  return withTimeout(running, c.rpcTimeout, () => {
    // The handler keeps running; its outcome no longer has anyone to go to.
    running.catch((err: unknown) => c.logger.warn({ err, method: f.method }, 'RPC failed after its timeout'));
    return new RpcError('timeout', `"${f.method}" did not answer within ${c.rpcTimeout} ms`);
  }).then(rpcAnswer);
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

/** A new token for the same user: new expiry and claims; a narrower `channels` claim ends what it no longer grants. */
async function refresh(c: CommandContext, s: Session, f: RefreshFrame): Promise<RefreshResult> {
  let identity: Awaited<ReturnType<Authenticator['token']>>;
  try {
    identity = await c.auth.token(f.token);
  } catch (err) {
    if (err instanceof AuthError && err.status === 503) throw new RpcError('unavailable', 'cannot verify tokens now');
    throw new RpcError('unauthorized', 'invalid token');
  }
  if (identity.user !== s.user) throw new RpcError('unauthorized', 'token is for another user');
  s.reauthenticate(identity);
  for (const channel of c.channels.of(s)) {
    if (claimAllows(c.ns.policy(channel), s, channel)) continue;
    c.channels.remove(s, channel);
    s.send({ type: 'unsubscribed', channel, reason: 'forbidden' });
  }
  return identity.expiresAt !== undefined ? { expiresAt: identity.expiresAt } : {};
}

/** Resolves like `p`, or rejects with `onTimeout()` after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

const LIVENESS: ReadonlySet<string> = new Set(['ping', 'pong', 'heartbeat']);

/** Builds the per-frame entry point: budgets, decoding, control frames, then the command table. */
export function frameHandler(c: CommandContext): (s: Session, data: RawData, isBinary: boolean) => void {
  const table = commandTable(c);
  const handle = <T extends CommandType>(s: Session, f: Extract<CommandFrame, { type: T }>): Answer | Promise<Answer> =>
    (table[f.type] as Handler<T>)(s, f);
  const succeed = (s: Session, f: CommandFrame, { result, afterReply }: Answer): void => {
    s.send({ type: 'reply', id: f.id, ok: true, result });
    afterReply?.();
  };
  const fail = (s: Session, f: CommandFrame, err: unknown): void => {
    s.send({ type: 'reply', id: f.id, ok: false, error: toErrorBody(err, c.logger, f.type) });
  };

  /**
   * Runs a command and sends exactly one reply, whatever happens: at once when the handler
   * answered synchronously (no promise hop), else when it settles. Never throws or rejects.
   */
  const answer = (s: Session, f: CommandFrame): Promise<void> | undefined => {
    let out: Answer | Promise<Answer>;
    try {
      out = handle(s, f);
      if (!(out instanceof Promise)) {
        succeed(s, f, out);
        return undefined;
      }
    } catch (err) {
      try {
        fail(s, f, err);
      } catch (replyErr) {
        c.logger.error({ err: replyErr }, `${f.type} reply failed`);
      }
      return undefined;
    }
    return out
      .then(
        (a) => succeed(s, f, a),
        (err: unknown) => fail(s, f, err),
      )
      .catch((err: unknown) => c.logger.error({ err }, `${f.type} reply failed`));
  };

  const dispatch = (s: Session, f: ClientFrame): void => {
    switch (f.type) {
      case 'ping':
        s.send(f.id !== undefined ? { type: 'pong', id: f.id } : { type: 'pong' });
        return;
      case 'pong':
        return;
      case 'heartbeat':
        s.send(f);
        return;
    }
    const done = answer(s, f);
    // Frames of one connection are handled in order, but a subscribe awaits the authorize hook and
    // history; a publish sent right behind it (an offline queue flushed after resubscribing) must
    // not be judged before the subscription exists.
    if (f.type === 'subscribe' && done) c.channels.track(s, f.channel, done);
  };

  return (s, data, isBinary) => {
    if (s.closing) return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    c.metrics.framesIn.inc();
    c.metrics.bytesIn.inc(bytes.length);
    // `ws` has validated a text message's UTF-8 already: hand the codec a string, so it does not
    // validate again.
    const decoded = decodeClientFrame(isBinary ? bytes : bytes.toString('utf8'), s.codec, isBinary);
    // Liveness frames never take from the rate limit: a ping under a burst still gets its pong.
    const admitted = decoded.ok && LIVENESS.has(decoded.frame.type) ? s.alive() : s.admit();
    if (s.closing) return;
    if (!admitted) {
      c.metrics.rateLimited.inc();
      const error = { code: 'rate_limited', message: 'too many frames, slow down' } as const;
      const id = decoded.ok ? ('id' in decoded.frame ? decoded.frame.id : undefined) : decoded.id;
      s.send(id !== undefined ? { type: 'reply', id, ok: false, error } : { type: 'error', error });
      return;
    }
    if (!decoded.ok) {
      if (s.malformedFrame()) return;
      s.send(
        decoded.id !== undefined
          ? { type: 'reply', id: decoded.id, ok: false, error: decoded.error }
          : { type: 'error', error: decoded.error },
      );
      return;
    }
    dispatch(s, decoded.frame);
  };
}
