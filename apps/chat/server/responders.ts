/**
 * The chat app's back end: the four RPC methods of docs/CHAT.md on a Tether server, with
 * sessions kept in memory and owned by the user who created them, and a small deterministic
 * "assistant" that streams its reply word by word on `chat:<sessionId>`.
 *
 * Loaded by `tether serve --plugin`: `namespaces` is read before the server is created and
 * `setup(tether)` is called before it listens.
 * @module
 */
import { type AuthorizeHook, RpcError, type TetherServer } from '@tether/server';

export interface ChatOptions {
  /** Delay between two streamed chunks, in ms. @default 40 */
  chunkDelay?: number;
}

interface HistoryMessage {
  role: 'user' | 'assistant';
  content: string;
  event_id?: string;
  status?: 'streaming' | 'done' | 'cancelled';
}

interface Session {
  owner: string;
  title?: string;
  messages: HistoryMessage[];
}

interface Stream {
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Publishes `END` after the chunks already queued. */
  end: () => void;
  stop: () => void;
}

/** The namespaces the chat app needs: only the server publishes replies; rooms track presence. */
export const namespaces = {
  chat: { publish: 'server' },
  room: { presence: true },
} as const;

const MAX_TEXT = 4000;

function str(params: unknown, key: string, max = 200): string {
  const v = typeof params === 'object' && params !== null ? (params as Record<string, unknown>)[key] : undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string' || v.trim() === '') throw new RpcError('bad_request', `${key} must be a non-empty string`);
  if (v.length > max) throw new RpcError('bad_request', `${key} is longer than ${max} characters`);
  return v;
}

/** A short title: the first words of the first question. */
export function makeTitle(question: string): string {
  const words = question.trim().split(/\s+/).filter(Boolean);
  const title = words.slice(0, 6).join(' ');
  return words.length > 6 ? `${title}…` : title || 'New chat';
}

/** The assistant: deterministic, simple, and honest about being canned. */
export function replyTo(text: string): string {
  const q = text.trim();
  const words = q.split(/\s+/).filter(Boolean);
  const lower = q.toLowerCase();
  if (/^(hi|hello|hey)\b/.test(lower))
    return 'Hello! I am the Tether demo assistant. Ask me anything and I will stream an answer word by word.';
  if (lower === 'help' || lower.includes('what can you do'))
    return 'I can restate your question, count its words and characters, and show how a streamed reply survives a reconnect. Try cancelling me halfway through a long answer.';
  const math = /^\s*(-?\d+(?:\.\d+)?)\s*([+\-*/])\s*(-?\d+(?:\.\d+)?)\s*\??\s*$/.exec(q);
  if (math) {
    const a = Number(math[1]);
    const b = Number(math[3]);
    const r = math[2] === '+' ? a + b : math[2] === '-' ? a - b : math[2] === '*' ? a * b : a / b;
    return `${a} ${math[2]} ${b} = ${r}.`;
  }
  const kind = q.endsWith('?') ? 'a question' : 'a statement';
  const head = words.slice(0, 12).join(' ');
  return `You wrote ${kind} of ${words.length} ${words.length === 1 ? 'word' : 'words'} and ${q.length} characters: "${head}${words.length > 12 ? ' …' : ''}". I am a canned demo assistant with no language model, so I can only restate it. Each word of this answer is one publication on the session's channel.`;
}

/** Splits a reply into chunks that concatenate back to it exactly: each word with its leading space. */
export function chunks(reply: string): string[] {
  return reply.split(/(?= )/);
}

/** Registers `chat.send`, `chat.history`, `chat.title` and `chat.cancel` on `tether`. */
export interface Chat {
  /** Stops every reply still streaming. */
  close: () => void;
  /**
   * The `authorize` hook for `chat:<sessionId>` channels: only the session's owner may subscribe.
   * The first user to subscribe to an unknown session claims it (the store subscribes before its
   * first `chat.send`, so that no chunk is missed); session ids are random, so nobody can guess one.
   */
  authorize: AuthorizeHook;
}

export function setupChat(tether: TetherServer, options: ChatOptions = {}): Chat {
  const delay = options.chunkDelay ?? 40;
  const sessions = new Map<string, Session>();
  const streams = new Map<string, Stream>();
  let n = 0;

  /** The session if `user` owns it; `forbidden` if someone else does; unknown ids are empty sessions. */
  const own = (sessionId: string, user: string): Session => {
    const s = sessions.get(sessionId);
    if (!s) return { owner: user, messages: [] };
    if (s.owner !== user) throw new RpcError('forbidden', `chat session ${sessionId} belongs to another user`);
    return s;
  };

  tether.rpc('chat.send', (params, ctx) => {
    const sessionId = str(params, 'sessionId');
    const text = str(params, 'text', MAX_TEXT);
    const session = own(sessionId, ctx.user);
    sessions.set(sessionId, session); // the first chat.send creates the session and makes its sender the owner
    if (session.title === undefined) session.title = makeTitle(text);
    const eventId = `ev-${Date.now().toString(36)}-${++n}`;
    const answer: HistoryMessage = { role: 'assistant', content: '', event_id: eventId, status: 'streaming' };
    session.messages.push({ role: 'user', content: text, event_id: eventId }, answer);
    const channel = `chat:${sessionId}`;
    let seq = 0;
    // Publications are chained so they reach the broker in order; the key makes a retry harmless.
    let pending: Promise<unknown> = Promise.resolve();
    const emit = (type: string, content?: string): void => {
      const data = content === undefined ? { type } : { type, content };
      const key = `${eventId}:${seq++}`;
      pending = pending
        .then(() => tether.publish(channel, { event_id: eventId, session_id: sessionId, data }, { key }))
        .catch((err: unknown) => tether.logger.warn({ err, channel }, 'chat publish failed'));
    };
    const parts = chunks(replyTo(text));
    let i = 0;
    const stream: Stream = {
      timer: undefined,
      end: () => emit('END'),
      stop: () => {
        if (stream.timer) clearTimeout(stream.timer);
        streams.delete(eventId);
      },
    };
    const step = (): void => {
      const part = parts[i++];
      if (part !== undefined) {
        answer.content += part;
        emit('MESSAGE', part);
        stream.timer = setTimeout(step, delay);
        return;
      }
      answer.status = 'done';
      emit('FINISH');
      emit('END');
      stream.stop();
    };
    streams.set(eventId, stream);
    stream.timer = setTimeout(step, delay);
    return { eventId };
  });

  tether.rpc('chat.history', (params, ctx) => {
    const session = own(str(params, 'sessionId'), ctx.user);
    const result: { messages: HistoryMessage[]; title?: string } = {
      messages: session.messages.map((m) => ({ ...m })),
    };
    if (session.title !== undefined) result.title = session.title;
    return result;
  });

  tether.rpc('chat.title', (params, ctx) => {
    const session = own(str(params, 'sessionId'), ctx.user);
    return { title: session.title ?? 'New chat' };
  });

  tether.rpc('chat.cancel', (params, ctx) => {
    const sessionId = str(params, 'sessionId');
    const eventId = str(params, 'eventId');
    const session = own(sessionId, ctx.user);
    const stream = streams.get(eventId);
    const answer = session.messages.find((m) => m.role === 'assistant' && m.event_id === eventId);
    if (stream && answer) {
      stream.stop();
      answer.status = 'cancelled';
      stream.end();
    }
    return {};
  });

  return {
    close: () => {
      for (const s of [...streams.values()]) s.stop();
    },
    authorize: (ctx, channel) => {
      if (!channel.startsWith('chat:')) return true;
      const sessionId = channel.slice('chat:'.length);
      const session = sessions.get(sessionId);
      if (!session) sessions.set(sessionId, { owner: ctx.user, messages: [] });
      return !session || session.owner === ctx.user;
    },
  };
}

let active: Chat | undefined;

/** The `tether serve --plugin` permission hook: delegates to the chat set up by {@link setup}. */
export const authorize: AuthorizeHook = (ctx, channel, action) => active?.authorize(ctx, channel, action) ?? false;

/** The `tether serve --plugin` entry point. */
export function setup(tether: TetherServer): void {
  active = setupChat(tether);
}
