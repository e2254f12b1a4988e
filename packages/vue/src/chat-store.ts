/**
 * `defineChatStore`: the seed's Pinia `useChatStore`, on the shared Tether client. A session
 * streams its replies on the channel `chat:<sessionId>`, so a reconnect mid-stream recovers the
 * rest from history by offset: no chunk twice, none missing. The contract is docs/CHAT.md.
 * Import from `@tether/vue/chat` (Pinia is needed only here).
 * @module
 */
import type { TetherClient } from '@tether/client';
import { defineStore } from 'pinia';
import { computed, onScopeDispose, ref } from 'vue';
import { acquireChannel, contextOf, type TetherContext } from './context.js';
import { useTetherContext } from './plugin.js';

/** Event types of a streamed reply. */
export type ChatEventType = 'MESSAGE' | 'FINISH' | 'END' | 'ERROR';

/** One streamed event, as published on `chat:<session_id>`. */
export interface ChatEvent {
  event_id: string;
  session_id: string;
  data: { type: ChatEventType; content?: string };
}

export type ChatMessageStatus = 'pending' | 'streaming' | 'done' | 'error' | 'cancelled';

export interface ChatMessage {
  /** Local id, unique in the store. */
  id: string;
  session_id: string;
  role: 'user' | 'assistant';
  content: string;
  /** The generation this reply belongs to (assistant messages, once `chat.send` answered). */
  event_id?: string;
  /** `pending` (sent, no chunk yet), `streaming`, `done`, `error`, `cancelled`. */
  status: ChatMessageStatus;
  /** Error text (status `error`). */
  error?: string;
}

export interface ChatSession {
  id: string;
  title?: string;
}

/** A message as `chat.history` returns it. */
export interface ChatHistoryMessage {
  role: 'user' | 'assistant';
  content: string;
  event_id?: string;
  status?: ChatMessageStatus;
}

export interface ChatStoreOptions {
  /** Pinia store id. @default 'chat' */
  id?: string;
  /** The client to use. @default the one installed by `createTether` (injected) */
  client?: TetherClient;
  /** Channel namespace sessions stream on. @default 'chat' */
  namespace?: string;
  /** Timeout (ms) of the chat RPCs. @default the client's `requestTimeout` */
  timeout?: number;
  /** Events held for a reply whose `chat.send` answer has not arrived yet, per session. @default 1000 */
  maxEarlyEvents?: number;
}

const TYPES: readonly string[] = ['MESSAGE', 'FINISH', 'END', 'ERROR'];

function isChatEvent(x: unknown): x is ChatEvent {
  const e = x as ChatEvent | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.event_id === 'string' &&
    typeof e.session_id === 'string' &&
    typeof e.data === 'object' &&
    e.data !== null &&
    TYPES.includes(e.data.type)
  );
}

let localSeq = 0;
const localId = (): string => `m${++localSeq}`;

/** A reply still being generated: sent and waiting for its first chunk, or streaming. */
const unfinished = (m: ChatMessage): boolean => m.status === 'pending' || m.status === 'streaming';

/**
 * Defines the chat store. Call once at module level, use the returned `useChatStore()` in components.
 * @example
 * export const useChatStore = defineChatStore()
 * const chat = useChatStore()
 * await chat.open('7f3a')
 * chat.send('hello')
 */
export function defineChatStore(options: ChatStoreOptions = {}) {
  const ns = options.namespace ?? 'chat';
  const maxEarly = options.maxEarlyEvents ?? 1000;
  return defineStore(options.id ?? 'chat', () => {
    const ctx: TetherContext = options.client ? contextOf(options.client) : useTetherContext('useChatStore()');
    const rpcOptions = options.timeout === undefined ? undefined : { timeout: options.timeout };
    const rpc = <R>(method: string, params: unknown): Promise<R> => ctx.client.rpc<R>(method, params, rpcOptions);

    const sessions = ref<ChatSession[]>([]);
    const currentId = ref<string | undefined>(undefined);
    const messages = ref<Record<string, ChatMessage[]>>({});
    /** Sessions whose title was requested (or known): asked once per session. */
    const titled = new Set<string>();
    const loaded = new Set<string>();
    const channels = new Map<string, () => void>();
    /** Events that arrived before `chat.send` answered with their event id, per session. */
    const early = new Map<string, ChatEvent[]>();
    /** Sessions whose stream had a gap while a reply was in flight: reloaded once it ends. */
    const gapped = new Set<string>();
    /** `chat.send` calls not answered yet, per session: while any is, unknown event ids are held. */
    const awaiting = new Map<string, number>();

    const list = computed<ChatMessage[]>(() => (currentId.value ? (messages.value[currentId.value] ?? []) : []));
    const current = computed(() => sessions.value.find((s) => s.id === currentId.value));
    const title = computed(() => current.value?.title);
    const generating = computed(() => list.value.some(unfinished));

    const sessionOf = (id: string): ChatSession => {
      let s = sessions.value.find((x) => x.id === id);
      if (!s) {
        sessions.value.push({ id });
        s = sessions.value[sessions.value.length - 1] as ChatSession;
      }
      return s;
    };
    const listOf = (id: string): ChatMessage[] => {
      messages.value[id] ??= [];
      return messages.value[id];
    };
    const inFlight = (id: string): boolean => (messages.value[id] ?? []).some(unfinished);

    /** Subscribes to a session's channel (once); released when the session is neither open nor streaming. */
    const follow = (id: string): Promise<void> => {
      const name = `${ns}:${id}`;
      if (!channels.has(id)) {
        const { release } = acquireChannel(ctx, name, {
          onMessage: (data) => receive(id, data),
          // Publications were lost for good (e.g. a memory broker restarted): the server's history is
          // the truth. A reply still streaming keeps its local copy until it ends, then reloads.
          onGap: () => {
            if (inFlight(id)) gapped.add(id);
            void loadHistory(id).catch(() => {});
          },
        });
        channels.set(id, release);
      }
      const entry = ctx.channels.get(name);
      // Wait for the subscription so no chunk published after `chat.send` can be missed; offline,
      // the RPC is queued behind the subscribe anyway.
      return entry ? entry.sub.ready.catch(() => {}) : Promise.resolve();
    };
    const unfollowIfIdle = (id: string): void => {
      if (id === currentId.value || inFlight(id)) return;
      channels.get(id)?.();
      channels.delete(id);
    };

    function receive(sessionId: string, data: unknown): void {
      // Never let another session's events into this one, whatever the channel carried.
      if (!isChatEvent(data) || data.session_id !== sessionId) return;
      const msgs = listOf(sessionId);
      const msg = msgs.find((m) => m.role === 'assistant' && m.event_id === data.event_id);
      if (msg) {
        apply(sessionId, msg, data);
        return;
      }
      if (awaiting.get(sessionId)) {
        const held = early.get(sessionId) ?? [];
        if (held.length < maxEarly) held.push(data);
        early.set(sessionId, held);
        return;
      }
      // A reply to a message sent elsewhere (another tab or device): show it too — from its text,
      // not from a stray FINISH/END of a reply this store no longer tracks.
      if (data.data.type !== 'MESSAGE') return;
      const created: ChatMessage = {
        id: localId(),
        session_id: sessionId,
        role: 'assistant',
        content: '',
        event_id: data.event_id,
        status: 'pending',
      };
      msgs.push(created);
      apply(sessionId, msgs[msgs.length - 1] as ChatMessage, data);
    }

    function apply(sessionId: string, msg: ChatMessage, ev: ChatEvent): void {
      if (msg.status === 'cancelled' || msg.status === 'error') return;
      switch (ev.data.type) {
        case 'MESSAGE':
          msg.content += ev.data.content ?? '';
          msg.status = 'streaming';
          return;
        case 'ERROR':
          msg.status = 'error';
          msg.error = ev.data.content ?? 'generation failed';
          break;
        case 'FINISH':
        case 'END':
          msg.status = 'done';
          void fetchTitle(sessionId);
      }
      if (gapped.has(sessionId) && !inFlight(sessionId)) {
        gapped.delete(sessionId);
        void loadHistory(sessionId).catch(() => {});
      }
      unfollowIfIdle(sessionId);
    }

    async function fetchTitle(sessionId: string): Promise<void> {
      if (titled.has(sessionId)) return;
      titled.add(sessionId);
      try {
        const res = await rpc<{ title: string }>('chat.title', { sessionId });
        sessionOf(sessionId).title = res.title;
      } catch {
        // No title is not an error worth surfacing; allow a later exchange to try again.
        titled.delete(sessionId);
      }
    }

    /** Switches to a session (created locally if new), subscribes to its stream and loads its history once. */
    async function open(sessionId: string | number): Promise<void> {
      const id = String(sessionId);
      const prev = currentId.value;
      sessionOf(id);
      currentId.value = id;
      if (prev && prev !== id) unfollowIfIdle(prev);
      await follow(id);
      if (!loaded.has(id)) await loadHistory(id);
    }

    /** Replaces a session's messages with the server's history, keeping replies still streaming here. */
    async function loadHistory(sessionId: string | number): Promise<void> {
      const id = String(sessionId);
      const res = await rpc<{ messages: ChatHistoryMessage[]; title?: string }>('chat.history', { sessionId: id });
      loaded.add(id);
      // Replies still streaming here stay as they are (the stream keeps appending to them); the
      // server's copy of those is dropped, and their question is kept when the server lacks it.
      const local = listOf(id);
      const live: ChatMessage[] = [];
      const liveIds = new Set<string>();
      for (const m of local) if (m.role === 'assistant' && unfinished(m) && m.event_id) liveIds.add(m.event_id);
      const asked = new Set(res.messages.filter((m) => m.role === 'user').map((m) => m.event_id));
      local.forEach((m, i) => {
        if (m.role !== 'assistant' || !unfinished(m)) return;
        const question = local[i - 1];
        if (question?.role === 'user' && (m.event_id === undefined || !asked.has(m.event_id))) live.push(question);
        live.push(m);
      });
      const past = res.messages.filter((m) => !(m.role === 'assistant' && m.event_id && liveIds.has(m.event_id)));
      messages.value[id] = [
        ...past.map(
          (m): ChatMessage => ({
            id: localId(),
            session_id: id,
            role: m.role,
            content: m.content,
            status: m.status ?? 'done',
            ...(m.event_id !== undefined && { event_id: m.event_id }),
          }),
        ),
        ...live,
      ];
      if (res.title) sessionOf(id).title = res.title;
      // A session with a past exchange had its first exchange already.
      if (res.title || past.some((m) => m.role === 'assistant')) titled.add(id);
    }

    /**
     * Sends `text` in a session (default: the open one; another id switches to it). Adds the user
     * message and a pending assistant message at once, and returns the assistant message, which
     * fills in as the reply streams.
     */
    function send(text: string, sessionId?: string | number): ChatMessage {
      const id = sessionId === undefined ? currentId.value : String(sessionId);
      if (!id) throw new TypeError('chatStore.send(text, sessionId): no session; pass one or call open(id) first');
      if (id !== currentId.value) {
        const prev = currentId.value;
        sessionOf(id);
        currentId.value = id;
        if (prev) unfollowIfIdle(prev);
      }
      const msgs = listOf(id);
      msgs.push({ id: localId(), session_id: id, role: 'user', content: text, status: 'done' });
      msgs.push({ id: localId(), session_id: id, role: 'assistant', content: '', status: 'pending' });
      // The reactive proxy, so the caller sees the reply stream in.
      const reply = msgs[msgs.length - 1] as ChatMessage;
      void deliver(id, text, reply);
      return reply;
    }

    /**
     * `chat.send` with a key of its own. A send cut off by a dropped link (or unanswered in time) is
     * asked again with the same key, which waits in the client's queue until it is connected; the
     * server answers a repeated key with the first send's event id, so a question is never asked twice.
     */
    async function sendOnce(id: string, text: string): Promise<{ eventId: string }> {
      const key = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join(
        '',
      );
      for (let attempt = 1; ; attempt++) {
        try {
          return await rpc<{ eventId: string }>('chat.send', { sessionId: id, text, key });
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (attempt >= 3 || (code !== 'ERR_TETHER_DISCONNECTED' && code !== 'ERR_TETHER_TIMEOUT')) throw err;
        }
      }
    }

    async function deliver(id: string, text: string, reply: ChatMessage): Promise<void> {
      awaiting.set(id, (awaiting.get(id) ?? 0) + 1);
      try {
        await follow(id);
        const { eventId } = await sendOnce(id, text);
        reply.event_id = eventId;
        const held = early.get(id) ?? [];
        early.set(
          id,
          held.filter((ev) => ev.event_id !== eventId),
        );
        for (const ev of held) if (ev.event_id === eventId) apply(id, reply, ev);
        if (reply.status === 'cancelled') void rpc('chat.cancel', { sessionId: id, eventId }).catch(() => {});
      } catch (err) {
        if (reply.status !== 'cancelled') {
          reply.status = 'error';
          reply.error = err instanceof Error ? err.message : String(err);
        }
        unfollowIfIdle(id);
      } finally {
        const left = (awaiting.get(id) ?? 1) - 1;
        if (left > 0) awaiting.set(id, left);
        else {
          // No reply waits for an id any more: what is still held belongs to replies sent elsewhere.
          awaiting.delete(id);
          const rest = early.get(id) ?? [];
          early.delete(id);
          for (const ev of rest) receive(id, ev);
        }
      }
    }

    /** Cancels the reply being generated in a session (default: the open one). */
    async function cancel(sessionId?: string | number): Promise<void> {
      const id = sessionId === undefined ? currentId.value : String(sessionId);
      if (!id) return;
      const reply = [...(messages.value[id] ?? [])].reverse().find((m) => m.role === 'assistant' && unfinished(m));
      if (!reply) return;
      reply.status = 'cancelled';
      // Without an event id yet, `deliver` cancels once `chat.send` answers.
      if (reply.event_id) await rpc('chat.cancel', { sessionId: id, eventId: reply.event_id });
      unfollowIfIdle(id);
    }

    onScopeDispose(() => {
      for (const release of channels.values()) release();
      channels.clear();
    });

    return {
      sessions,
      currentId,
      messages,
      list,
      title,
      generating,
      open,
      send,
      loadHistory,
      cancel,
      /** As in the seed: a function. */
      isConnected: () => ctx.state.value === 'open',
    };
  });
}

/** The default chat store (id `chat`, the injected client). */
export const useChatStore = defineChatStore();
