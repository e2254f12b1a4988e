// @vitest-environment happy-dom
/**
 * The Pinia chat store against a real Tether server with a small chat responder: optimistic send,
 * streamed assembly by event_id, the title fetched once, history, cancel, isolation between
 * sessions, and a server restart mid-stream that ends with exactly the text of an undisturbed run.
 */
import type { TetherServer } from '@tether/server';
import { mount, type VueWrapper } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { afterEach, expect, it, vi } from 'vitest';
import { defineComponent, h } from 'vue';
import { WebSocket } from 'ws';
import { type ChatEvent, defineChatStore } from '../src/chat.js';
import { createTether, type TetherPlugin } from '../src/index.js';
import { startServer, type TestServer, token } from './helpers.js';

let t: TestServer | undefined;
let wrapper: VueWrapper | undefined;
let plugin: TetherPlugin | undefined;

afterEach(async () => {
  wrapper?.unmount();
  wrapper = undefined;
  plugin?.client?.close();
  plugin = undefined;
  await t?.close();
  t = undefined;
});

const useChat = defineChatStore({ id: 'chat-test' });
/** The namespace settings docs/CHAT.md recommends: only server code publishes replies. */
const CHAT_NS = { namespaces: { chat: { publish: 'server' as const } } };

/** A chat backend: records calls; `chat.send` answers an event id and leaves the streaming to the test. */
function backend() {
  const calls = { send: [] as unknown[], title: 0, cancel: [] as unknown[], history: 0 };
  let seq = 0;
  const history: Record<string, { role: 'user' | 'assistant'; content: string; event_id?: string }[]> = {};
  let onSend: (sessionId: string, eventId: string) => void = () => {};
  const rpc = {
    'chat.send': (params: unknown) => {
      const { sessionId, text } = params as { sessionId: string; text: string };
      calls.send.push(params);
      const eventId = `ev-${++seq}`;
      history[sessionId] ??= [];
      history[sessionId].push({ role: 'user', content: text, event_id: eventId });
      onSend(sessionId, eventId);
      return { eventId };
    },
    'chat.title': () => {
      calls.title++;
      return { title: 'A summary' };
    },
    'chat.history': (params: unknown) => {
      calls.history++;
      return { messages: history[(params as { sessionId: string }).sessionId] ?? [] };
    },
    'chat.cancel': (params: unknown) => {
      calls.cancel.push(params);
      return {};
    },
  };
  return { calls, rpc, history, setOnSend: (fn: typeof onSend) => (onSend = fn) };
}

const event = (sessionId: string, eventId: string, type: ChatEvent['data']['type'], content?: string): ChatEvent => ({
  event_id: eventId,
  session_id: sessionId,
  data: content === undefined ? { type } : { type, content },
});

/** Mounts an app with the plugin and Pinia; returns the store. */
function app(server: TestServer) {
  plugin = createTether({
    url: server.url,
    WebSocket,
    token: () => token(),
    // Pinned jitter: a restart's quick reconnect waits exactly initialDelay, so the test can
    // publish while the client is away, deterministically.
    reconnect: { initialDelay: 400, jitter: 0 },
    random: () => 1,
  });
  const pinia = createPinia();
  let store: ReturnType<typeof useChat> | undefined;
  const Root = defineComponent(() => {
    store = useChat();
    return () =>
      h(
        'ol',
        store?.list.map((m) => h('li', { class: m.role }, m.content)),
      );
  });
  wrapper = mount(Root, { global: { plugins: [plugin, pinia] } });
  if (!store) throw new Error('store not created');
  return store;
}

const useSlowChat = defineChatStore({ id: 'chat-test-timeout', timeout: 300 });
/** Like `app`, with a store whose RPCs time out after 300 ms. */
function slowApp(server: TestServer) {
  plugin = createTether({ url: server.url, WebSocket, token: () => token() });
  let store: ReturnType<typeof useSlowChat> | undefined;
  const Root = defineComponent(() => {
    store = useSlowChat();
    return () => h('div');
  });
  wrapper = mount(Root, { global: { plugins: [plugin, createPinia()] } });
  if (!store) throw new Error('store not created');
  return store;
}

const publishAll = async (server: TetherServer, events: ChatEvent[]): Promise<void> => {
  for (const e of events) await server.publish(`chat:${e.session_id}`, e);
};

it('send is optimistic, the reply assembles from chunks, and FINISH/END fetch the title once', async () => {
  const b = backend();
  t = await startServer(b.rpc, CHAT_NS);
  const server = t;
  b.setOnSend((sid, eid) => {
    // Streams after answering, as a model would.
    setImmediate(
      () =>
        void publishAll(server.server, [
          event(sid, eid, 'MESSAGE', 'Hel'),
          event(sid, eid, 'MESSAGE', 'lo, '),
          event(sid, eid, 'MESSAGE', 'world'),
          event(sid, eid, 'FINISH'),
          event(sid, eid, 'END'),
        ]),
    );
  });
  const chat = app(t);
  await chat.open('s1');
  expect(b.calls.history).toBe(1);

  const reply = chat.send('hi there', 's1');
  // Optimistic: both messages exist before any network round trip.
  expect(chat.list.map((m) => [m.role, m.content, m.status])).toEqual([
    ['user', 'hi there', 'done'],
    ['assistant', '', 'pending'],
  ]);
  expect(reply.status).toBe('pending');

  await vi.waitFor(() => expect(chat.list[1]?.status).toBe('done'));
  expect(chat.list[1]?.content).toBe('Hello, world');
  expect(chat.list[1]?.event_id).toBe('ev-1');
  expect(reply.content).toBe('Hello, world');
  expect(b.calls.send).toEqual([{ sessionId: 's1', text: 'hi there', key: expect.stringMatching(/^[0-9a-f]{24}$/) }]);
  await vi.waitFor(() => expect(chat.title).toBe('A summary'));
  // A round trip after the title: a second chat.title sent on END would have reached the server by now.
  await plugin?.client?.ping();
  expect(b.calls.title).toBe(1);
  expect(wrapper?.findAll('li.assistant').map((li) => li.text())).toEqual(['Hello, world']);

  // The second exchange of the session does not ask again.
  chat.send('again');
  await vi.waitFor(() => expect(chat.list[3]?.status).toBe('done'));
  await plugin?.client?.ping();
  expect(b.calls.title).toBe(1);
});

it('a chat.send that times out is asked again with its key: one question, one reply', async () => {
  const b = backend();
  const byKey = new Map<string, { eventId: string }>();
  let first = true;
  const send = b.rpc['chat.send'];
  const rpc = {
    ...b.rpc,
    // The first answer comes after the store's timeout (lost, as on a dropped link); the repeat
    // carries the same key and gets the first answer without a second exchange.
    'chat.send': async (params: unknown) => {
      const key = (params as { key: string }).key;
      const seen = byKey.get(key);
      if (seen) return seen;
      const answer = send(params);
      byKey.set(key, answer);
      if (first) {
        first = false;
        await new Promise((resolve) => setTimeout(resolve, 600));
      }
      return answer;
    },
  };
  t = await startServer(rpc, CHAT_NS);
  const server = t;
  b.setOnSend((sid, eid) => {
    setTimeout(
      () =>
        void publishAll(server.server, [
          event(sid, eid, 'MESSAGE', 'Once'),
          event(sid, eid, 'FINISH'),
          event(sid, eid, 'END'),
        ]),
      700,
    );
  });
  const chat = slowApp(t);
  await chat.open('s9');
  chat.send('only once', 's9');
  await vi.waitFor(() => expect(chat.list[1]?.status).toBe('done'), { timeout: 4000 });
  expect(chat.list.map((m) => [m.role, m.content])).toEqual([
    ['user', 'only once'],
    ['assistant', 'Once'],
  ]);
  expect(b.calls.send).toHaveLength(1);
  expect(b.history.s9).toHaveLength(1);
});

it('chunks published before chat.send answers are held and applied to the right reply', async () => {
  const b = backend();
  t = await startServer(b.rpc, CHAT_NS);
  const server = t;
  // This responder streams the whole reply before it answers chat.send.
  server.server.rpc('chat.send', async (params: unknown) => {
    const { sessionId } = params as { sessionId: string };
    await publishAll(server.server, [
      event(sessionId, 'early', 'MESSAGE', 'fast '),
      event(sessionId, 'early', 'MESSAGE', 'reply'),
      event(sessionId, 'early', 'END'),
    ]);
    return { eventId: 'early' };
  });
  const chat = app(t);
  await chat.open('s2');
  chat.send('go');
  await vi.waitFor(() => expect(chat.list[1]?.status).toBe('done'));
  expect(chat.list.map((m) => m.content)).toEqual(['go', 'fast reply']);
});

it('events for another session never leak into the open one; switching and history', async () => {
  const b = backend();
  t = await startServer(b.rpc, CHAT_NS);
  b.history.old = [
    { role: 'user', content: 'q', event_id: 'x' },
    { role: 'assistant', content: 'a', event_id: 'x' },
  ];
  const chat = app(t);
  await chat.open('s3');
  const reply = chat.send('hello');
  await vi.waitFor(() => expect(reply.event_id).toBe('ev-1'));
  // A stray event on this session's channel claiming another session, and one for another session's channel.
  await publishAll(t.server, [event('zz', 'ev-1', 'MESSAGE', 'LEAK')]);
  await t.server.publish('chat:s3', event('zz', 'ev-1', 'MESSAGE', 'LEAK'));
  await publishAll(t.server, [event('s3', 'ev-1', 'MESSAGE', 'ok'), event('s3', 'ev-1', 'END')]);
  await vi.waitFor(() => expect(chat.list[1]?.status).toBe('done'));
  expect(chat.list[1]?.content).toBe('ok');

  await chat.open('old');
  expect(chat.currentId).toBe('old');
  expect(chat.list.map((m) => [m.role, m.content])).toEqual([
    ['user', 'q'],
    ['assistant', 'a'],
  ]);
  // A session with history already had its first exchange: no title request for it.
  await plugin?.client?.ping();
  expect(b.calls.title).toBe(1);
  await chat.open('s3');
  expect(chat.list.map((m) => m.content)).toEqual(['hello', 'ok']);
});

it('cancel stops a generation: chat.cancel with its event id, later chunks ignored', async () => {
  const b = backend();
  t = await startServer(b.rpc, CHAT_NS);
  const chat = app(t);
  await chat.open('s4');
  const reply = chat.send('long story');
  await vi.waitFor(() => expect(reply.event_id).toBe('ev-1'));
  await publishAll(t.server, [event('s4', 'ev-1', 'MESSAGE', 'Once')]);
  await vi.waitFor(() => expect(reply.content).toBe('Once'));
  expect(chat.generating).toBe(true);
  await chat.cancel();
  expect(b.calls.cancel).toEqual([{ sessionId: 's4', eventId: 'ev-1' }]);
  expect(reply.status).toBe('cancelled');
  expect(chat.generating).toBe(false);
  await publishAll(t.server, [event('s4', 'ev-1', 'MESSAGE', ' upon')]);
  await plugin?.client?.ping();
  expect(reply.content).toBe('Once');
});

it('reloading history mid-stream keeps the streaming reply and does not double the question', async () => {
  const b = backend();
  t = await startServer(b.rpc, CHAT_NS);
  const chat = app(t);
  await chat.open('s6');
  const reply = chat.send('question');
  await vi.waitFor(() => expect(reply.event_id).toBe('ev-1'));
  await publishAll(t.server, [event('s6', 'ev-1', 'MESSAGE', 'par')]);
  await vi.waitFor(() => expect(reply.content).toBe('par'));
  // The server's history already has the question (with the exchange's event id), not the reply.
  await chat.loadHistory('s6');
  expect(chat.list.map((m) => [m.role, m.content, m.status])).toEqual([
    ['user', 'question', 'done'],
    ['assistant', 'par', 'streaming'],
  ]);
  await publishAll(t.server, [event('s6', 'ev-1', 'MESSAGE', 'tial'), event('s6', 'ev-1', 'END')]);
  await vi.waitFor(() => expect(chat.list[1]?.status).toBe('done'));
  expect(chat.list[1]?.content).toBe('partial');
});

it('a stream whose history was lost is reloaded from chat.history once the reply ends', async () => {
  const b = backend();
  t = await startServer(b.rpc, CHAT_NS);
  const chat = app(t);
  await chat.open('s7');
  const reply = chat.send('q');
  await vi.waitFor(() => expect(reply.event_id).toBe('ev-1'));
  await publishAll(t.server, [event('s7', 'ev-1', 'MESSAGE', 'one ')]);
  await vi.waitFor(() => expect(reply.content).toBe('one '));
  const historyCalls = b.calls.history;

  // The broker is lost with the server: chunks published meanwhile can never be replayed.
  await t.restart({ fresh: true });
  b.history.s7?.push({ role: 'assistant', content: 'one two three', event_id: 'ev-1' });
  await publishAll(t.server, [event('s7', 'ev-1', 'MESSAGE', 'two ')]);
  await vi.waitFor(() => expect(b.calls.history).toBe(historyCalls + 1), { timeout: 5000 });
  await publishAll(t.server, [event('s7', 'ev-1', 'MESSAGE', 'three'), event('s7', 'ev-1', 'END')]);
  // The local copy missed 'two '; once the reply ended, the server's complete copy replaced it.
  await vi.waitFor(() => expect(chat.list.map((m) => m.content)).toEqual(['q', 'one two three']));
  expect(b.calls.history).toBe(historyCalls + 2);
  expect(chat.list[1]?.status).toBe('done');
});

it('cancel before chat.send answers: cancelled once the id is known, its chunks never shown', async () => {
  const b = backend();
  t = await startServer(b.rpc, CHAT_NS);
  const server = t;
  let published = false;
  let answer: () => void = () => {};
  server.server.rpc('chat.send', async (params: unknown) => {
    const { sessionId } = params as { sessionId: string };
    await publishAll(server.server, [event(sessionId, 'late', 'MESSAGE', 'nope')]);
    published = true;
    await new Promise<void>((r) => {
      answer = r;
    });
    return { eventId: 'late' };
  });
  const chat = app(t);
  await chat.open('s8');
  const reply = chat.send('x');
  await vi.waitFor(() => expect(published).toBe(true));
  // A round trip: the chunk's frame came before this pong, so the store has seen (and held) it.
  await plugin?.client?.ping();
  await chat.cancel();
  expect(reply.status).toBe('cancelled');
  expect(b.calls.cancel).toEqual([]);
  answer();
  await vi.waitFor(() => expect(b.calls.cancel).toEqual([{ sessionId: 's8', eventId: 'late' }]));
  expect(chat.list.map((m) => [m.role, m.content, m.status])).toEqual([
    ['user', 'x', 'done'],
    ['assistant', '', 'cancelled'],
  ]);
});

it('a reply to a message sent from another tab appears in the open session', async () => {
  const b = backend();
  t = await startServer(b.rpc, CHAT_NS);
  const chat = app(t);
  await chat.open('s9');
  await publishAll(t.server, [
    event('s9', 'elsewhere', 'MESSAGE', 'hi from '),
    event('s9', 'elsewhere', 'MESSAGE', 'there'),
    event('s9', 'elsewhere', 'END'),
  ]);
  await vi.waitFor(() => expect(chat.list[0]?.status).toBe('done'));
  expect(chat.list.map((m) => [m.role, m.content, m.event_id])).toEqual([['assistant', 'hi from there', 'elsewhere']]);
});

const CHUNKS = ['The ', 'quick ', 'brown ', 'fox ', 'jumps ', 'over ', 'the ', 'lazy ', 'dog.'];

/** Streams CHUNKS in three parts; with `restart`, the server restarts (same port, same broker) between them. */
async function streamRun(restart: boolean): Promise<{ text: string; title: string | undefined; titles: number }> {
  const b = backend();
  const server = await startServer(b.rpc, CHAT_NS);
  t = server;
  const chat = app(server);
  await chat.open('s5');
  const reply = chat.send('tell me');
  await vi.waitFor(() => expect(reply.event_id).toBe('ev-1'));
  const part = (from: number, to: number) => CHUNKS.slice(from, to).map((c) => event('s5', 'ev-1', 'MESSAGE', c));
  await publishAll(server.server, part(0, 3));
  await vi.waitFor(() => expect(reply.content).toBe(CHUNKS.slice(0, 3).join('')));
  if (restart) {
    await server.restart();
    // Published while the client is still away: only recovery from history can deliver these.
    expect(plugin?.client?.state).not.toBe('open');
    await publishAll(server.server, part(3, 6));
    await vi.waitFor(() => expect(plugin?.client?.state).toBe('open'), { timeout: 5000 });
  } else await publishAll(server.server, part(3, 6));
  await publishAll(server.server, [...part(6, 9), event('s5', 'ev-1', 'FINISH'), event('s5', 'ev-1', 'END')]);
  await vi.waitFor(() => expect(reply.status).toBe('done'), { timeout: 5000 });
  await vi.waitFor(() => expect(chat.title).toBe('A summary'));
  await plugin?.client?.ping();
  const result = { text: reply.content, title: chat.title, titles: b.calls.title };
  wrapper?.unmount();
  wrapper = undefined;
  plugin?.client?.close();
  await server.close();
  t = undefined;
  return result;
}

it('a server restart in the middle of a stream ends with the same text as a run without one', async () => {
  const calm = await streamRun(false);
  const restarted = await streamRun(true);
  expect(calm).toEqual({ text: CHUNKS.join(''), title: 'A summary', titles: 1 });
  expect(restarted).toEqual(calm);
});
