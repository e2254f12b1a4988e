/**
 * Assistant sessions on `chat:<sessionId>` (the contract of docs/CHAT.md), kept in SQLite:
 * `chat.send`, `chat.history`, `chat.title`, `chat.cancel`, `chat.sessions`, `chat.forget`.
 * Every chunk is published first and recorded after, with a key per chunk, so a reply cut by a
 * crash is resumed (deterministic responders) without a missing or doubled chunk, or marked
 * interrupted (others) so the page offers Retry.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { type ClientContext, RpcError, type TetherServer } from '@tether/server';
import type { ChatDb, MessageStatus, SessionMessageRow } from './db.js';
import { type Responder, ResponderError, type Turn } from './responder.js';

const MAX_TEXT = 4000;
export const INTERRUPTED = 'The server restarted while this reply was being written. Press Retry to ask again.';

export function param(params: unknown, key: string, max = 200): string {
  const v = typeof params === 'object' && params !== null ? (params as Record<string, unknown>)[key] : undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string' || v.trim() === '') throw new RpcError('bad_request', `${key} must be a non-empty string`);
  if (v.length > max) throw new RpcError('bad_request', `${key} is longer than ${max} characters`);
  return v;
}

/** The optional idempotency key of `chat.send`: a client-made id, the reply's event id is derived from it. */
function sendKey(params: unknown): string | undefined {
  const v = typeof params === 'object' && params !== null ? (params as Record<string, unknown>).key : undefined;
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{8,64}$/.test(v))
    throw new RpcError('bad_request', 'key must be 8 to 64 letters, digits, _ or -');
  return v;
}

interface Running {
  ctl: AbortController;
  done: Promise<void>;
}

export interface Assistant {
  /** The `authorize` rule for `chat:<id>`: the owner only; the first subscriber claims an unknown id. */
  mayUse(ctx: ClientContext, sessionId: string): boolean;
  /** Resumes or marks interrupted every reply a previous process left streaming. Call once the broker runs. */
  recover(): Promise<void>;
  /** Aborts every running reply (shutdown): deterministic ones resume on the next start, others are marked interrupted. */
  close(): Promise<void>;
}

export function setupAssistant(
  tether: TetherServer,
  store: ChatDb,
  responders: { default: Responder; byName: Map<string, Responder> },
): Assistant {
  const { q } = store;
  /** Replies being written, by session and event id (event ids come from client keys, unique per session only). */
  const running = new Map<string, Running>();
  const runId = (sessionId: string, eventId: string): string => `${sessionId}\n${eventId}`;
  let closing = false;

  const turns = (sessionId: string, beforeSeq: number): Turn[] =>
    q.messages
      .all(sessionId)
      .filter((m) => m.seq < beforeSeq && (m.role === 'user' || m.status === 'done'))
      .map((m) => ({ role: m.role, content: m.content }));

  const owned = (sessionId: string, user: string) => {
    const s = q.session.get(sessionId);
    if (s && s.owner !== user) throw new RpcError('forbidden', `chat session ${sessionId} belongs to another user`);
    return s;
  };

  const publish = (sessionId: string, eventId: string, key: string, type: string, content?: string) =>
    tether.publish(
      `chat:${sessionId}`,
      { event_id: eventId, session_id: sessionId, data: content === undefined ? { type } : { type, content } },
      { key: `${eventId}:${key}` },
    );

  /** Ends a reply: one status change in the database, then FINISH/ERROR and END on the channel. */
  async function end(sessionId: string, eventId: string, status: MessageStatus, error?: string): Promise<void> {
    q.finish.run(status, error ?? null, sessionId, eventId);
    if (status === 'done') await publish(sessionId, eventId, 'finish', 'FINISH');
    if (status === 'error') await publish(sessionId, eventId, 'error', 'ERROR', error);
    await publish(sessionId, eventId, 'end', 'END');
  }

  /** Streams the reply `answer` from chunk `answer.chunks` on (0 for a new reply). */
  function stream(answer: SessionMessageRow, responder: Responder): void {
    const { session_id: sessionId, event_id: eventId } = answer;
    const ctl = new AbortController();
    const done = (async () => {
      // Chunks already published (before a restart) are skipped by the responder; their keys would dedupe them anyway.
      let n = answer.chunks;
      try {
        for await (const part of responder.reply(turns(sessionId, answer.seq), ctl.signal, answer.chunks)) {
          if (ctl.signal.aborted) break;
          n++;
          await publish(sessionId, eventId, `m${n - 1}`, 'MESSAGE', part);
          q.chunk.run(part, n, sessionId, eventId);
        }
        if (!ctl.signal.aborted) await end(sessionId, eventId, 'done');
        else if (closing && !responder.deterministic) await end(sessionId, eventId, 'error', INTERRUPTED);
      } catch (err) {
        const message =
          err instanceof ResponderError ? err.message : 'The assistant failed to answer; please try again.';
        if (!(err instanceof ResponderError)) tether.logger.error({ err, sessionId }, 'chat responder failed');
        await end(sessionId, eventId, 'error', message).catch((e: unknown) =>
          tether.logger.warn({ err: e, sessionId }, 'chat: could not publish the error'),
        );
      } finally {
        running.delete(runId(sessionId, eventId));
      }
    })().catch((err: unknown) => tether.logger.warn({ err, sessionId }, 'chat stream failed'));
    running.set(runId(sessionId, eventId), { ctl, done });
  }

  tether.rpc('chat.send', (params, ctx) => {
    const sessionId = param(params, 'sessionId');
    const text = param(params, 'text', MAX_TEXT);
    const existing = owned(sessionId, ctx.user);
    const now = Date.now();
    const responder = (existing && responders.byName.get(existing.responder)) ?? responders.default;
    // A repeated key (the store asks again after a dropped link) gets the first send's reply.
    const key = sendKey(params);
    const eventId = key ? `ev-${key}` : `ev-${randomUUID()}`;
    if (key && q.answer.get(sessionId, eventId)) return { eventId };
    let seq = 0;
    store.db.transaction(() => {
      q.addSession.run(sessionId, ctx.user, responder.name, now, now);
      q.touchSession.run(now, sessionId);
      seq = (q.nextSeq.get(sessionId) as { n: number }).n;
      q.addTurn.run(sessionId, seq, 'user', text, eventId, 'done');
      q.addTurn.run(sessionId, seq + 1, 'assistant', '', eventId, 'streaming');
    })();
    stream(q.answer.get(sessionId, eventId) as SessionMessageRow, responder);
    return { eventId };
  });

  tether.rpc('chat.history', (params, ctx) => {
    const sessionId = param(params, 'sessionId');
    const session = owned(sessionId, ctx.user);
    const messages = q.messages.all(sessionId).map((m) => ({
      role: m.role,
      content: m.content,
      event_id: m.event_id,
      ...(m.role === 'assistant' && { status: m.status }),
      ...(m.error !== null && { error: m.error }),
    }));
    return session?.title ? { messages, title: session.title } : { messages };
  });

  tether.rpc('chat.title', async (params, ctx) => {
    const sessionId = param(params, 'sessionId');
    const session = owned(sessionId, ctx.user);
    if (!session) return { title: 'New chat' };
    if (session.title) return { title: session.title };
    const responder = responders.byName.get(session.responder) ?? responders.default;
    const title = await responder.title(
      turns(sessionId, Number.POSITIVE_INFINITY).slice(0, 2),
      AbortSignal.timeout(20_000),
    );
    q.setTitle.run(title, sessionId);
    return { title };
  });

  tether.rpc('chat.cancel', async (params, ctx) => {
    const sessionId = param(params, 'sessionId');
    const eventId = param(params, 'eventId');
    owned(sessionId, ctx.user);
    const task = running.get(runId(sessionId, eventId));
    if (task && q.answer.get(sessionId, eventId)?.status === 'streaming') {
      task.ctl.abort();
      await task.done;
      await end(sessionId, eventId, 'cancelled');
    }
    return {};
  });

  /** The user's sessions, most recent first, each with its title (or the first words of its first question). */
  tether.rpc('chat.sessions', (_params, ctx) => ({
    sessions: q.sessionsOf.all(ctx.user).map((s) => ({
      id: s.id,
      title: s.title ?? s.first?.split(/\s+/).slice(0, 6).join(' ') ?? 'New chat',
      updatedAt: s.updated_at,
    })),
  }));

  /** Removes a failed or stopped exchange before it is asked again (Retry). A running one is refused. */
  tether.rpc('chat.forget', (params, ctx) => {
    const sessionId = param(params, 'sessionId');
    const eventId = param(params, 'eventId');
    owned(sessionId, ctx.user);
    if (running.has(runId(sessionId, eventId)))
      throw new RpcError('bad_request', 'that reply is still being written; stop it first');
    q.forget.run(sessionId, eventId);
    return {};
  });

  return {
    mayUse(ctx, sessionId) {
      const s = q.session.get(sessionId);
      if (s) return s.owner === ctx.user;
      // Unknown id (random, unguessable): the first subscriber claims it, before its first chat.send.
      const now = Date.now();
      q.addSession.run(sessionId, ctx.user, responders.default.name, now, now);
      return q.session.get(sessionId)?.owner === ctx.user;
    },
    async recover() {
      for (const answer of q.streaming.all()) {
        if (running.has(runId(answer.session_id, answer.event_id))) continue;
        const name = q.session.get(answer.session_id)?.responder ?? '';
        const responder = responders.byName.get(name);
        if (responder?.deterministic) stream(answer, responder);
        else await end(answer.session_id, answer.event_id, 'error', INTERRUPTED);
      }
    },
    async close() {
      closing = true;
      const all = [...running.values()];
      for (const r of all) r.ctl.abort();
      await Promise.all(all.map((r) => r.done));
    },
  };
}
