/**
 * The chat responders against a real Tether server on loopback, driven by `@tether/client`
 * over `ws`: the stream's shape and text, cancel, ownership, titles.
 */
import { createClient, type TetherClient } from '@tether/client';
import { createServer, memoryBroker, signToken, type TetherServer } from '@tether/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Chat, chunks, makeTitle, namespaces, replyTo, setupChat } from '../server/responders.js';

const SECRET = 'chat-app-test-secret-of-a-decent-length-0123';

interface ChatEvent {
  event_id: string;
  session_id: string;
  data: { type: 'MESSAGE' | 'FINISH' | 'END' | 'ERROR'; content?: string };
}

let server: TetherServer;
let url: string;
let chat: Chat;
const clients: TetherClient[] = [];

beforeEach(async () => {
  server = createServer({
    host: '127.0.0.1',
    port: 0,
    auth: { jwtSecret: SECRET },
    broker: memoryBroker(),
    logLevel: 'silent',
    drainDelay: 0,
    namespaces,
    authorize: (ctx, channel, action) => chat.authorize(ctx, channel, action),
  });
  chat = setupChat(server, { file: ':memory:', chunkDelay: 5 });
  const { port } = await server.listen();
  url = `ws://127.0.0.1:${port}/ws`;
});

afterEach(async () => {
  await chat.close();
  for (const c of clients.splice(0)) c.close();
  await server.close({ deadline: 1000 });
});

async function connect(user: string): Promise<TetherClient> {
  const client = createClient({ url, token: () => signToken(SECRET, { user }), WebSocket });
  clients.push(client);
  await client.connect();
  return client;
}

/** Subscribes to a session's channel and collects its events; `until` resolves on a matching event. */
async function watch(client: TetherClient, sessionId: string) {
  const events: ChatEvent[] = [];
  const waiters: Array<{ test: (e: ChatEvent) => boolean; resolve: () => void }> = [];
  const sub = client.subscribe(`chat:${sessionId}`, {
    onMessage: (data) => {
      const e = data as ChatEvent;
      events.push(e);
      for (const w of [...waiters]) if (w.test(e)) w.resolve();
    },
  });
  await sub.ready;
  const until = (test: (e: ChatEvent) => boolean, ms = 5000): Promise<void> =>
    events.some(test)
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no matching chat event within ${ms} ms`)), ms);
          waiters.push({
            test,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
  return { events, until };
}

describe('chat responders', () => {
  it('chat.send streams MESSAGE chunks, then FINISH, then END; the chunks make the reply', async () => {
    const ann = await connect('ann');
    const w = await watch(ann, 's1');
    const question = 'How does recovery work after a reconnect?';
    const { eventId } = await ann.rpc<{ eventId: string }>('chat.send', { sessionId: 's1', text: question });
    expect(eventId).toEqual(expect.any(String));
    await w.until((e) => e.data.type === 'END');

    const mine = w.events.filter((e) => e.event_id === eventId);
    expect(mine.every((e) => e.session_id === 's1')).toBe(true);
    const types = mine.map((e) => e.data.type);
    const firstNonMessage = types.findIndex((t) => t !== 'MESSAGE');
    expect(firstNonMessage).toBeGreaterThan(1);
    expect(types.slice(firstNonMessage)).toEqual(['FINISH', 'END']);
    const text = mine
      .filter((e) => e.data.type === 'MESSAGE')
      .map((e) => e.data.content)
      .join('');
    expect(text).toBe(replyTo(question));
    expect(text).toContain('7 words');

    const history = await ann.rpc<{ messages: unknown[]; title?: string }>('chat.history', { sessionId: 's1' });
    expect(history.messages).toEqual([
      { role: 'user', content: question, event_id: eventId },
      { role: 'assistant', content: text, event_id: eventId, status: 'done' },
    ]);
  });

  it('chat.cancel stops the stream and ends it', async () => {
    const ann = await connect('ann');
    const w = await watch(ann, 's2');
    const question = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const { eventId } = await ann.rpc<{ eventId: string }>('chat.send', { sessionId: 's2', text: question });
    await w.until((e) => e.data.type === 'MESSAGE');
    await ann.rpc('chat.cancel', { sessionId: 's2', eventId });
    await w.until((e) => e.data.type === 'END');
    const countAtEnd = w.events.length;

    // A later exchange runs to its end: had the cancelled stream gone on, its chunks would show up before it.
    const next = await ann.rpc<{ eventId: string }>('chat.send', { sessionId: 's2', text: 'hi' });
    await w.until((e) => e.event_id === next.eventId && e.data.type === 'END');
    const cancelled = w.events.filter((e) => e.event_id === eventId);
    expect(cancelled.length).toBe(countAtEnd);
    expect(cancelled.map((e) => e.data.type)).not.toContain('FINISH');
    const partial = cancelled.map((e) => e.data.content ?? '').join('');
    expect(partial.length).toBeLessThan(replyTo(question).length);

    const history = await ann.rpc<{ messages: Array<{ status?: string }> }>('chat.history', { sessionId: 's2' });
    expect(history.messages[1]?.status).toBe('cancelled');
  });

  it('chat.send with a key asked twice is one exchange: the repeat gets the first event id and no second reply', async () => {
    const ann = await connect('ann');
    const w = await watch(ann, 's6');
    const first = await ann.rpc<{ eventId: string }>('chat.send', {
      sessionId: 's6',
      text: 'once',
      key: 'k-0123456789',
    });
    const again = await ann.rpc<{ eventId: string }>('chat.send', {
      sessionId: 's6',
      text: 'once',
      key: 'k-0123456789',
    });
    expect(again.eventId).toBe(first.eventId);
    await w.until((e) => e.event_id === first.eventId && e.data.type === 'END');
    const history = await ann.rpc<{ messages: Array<{ role: string }> }>('chat.history', { sessionId: 's6' });
    expect(history.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(w.events.filter((e) => e.data.type === 'END')).toHaveLength(1);

    // The same key in another person's session is theirs alone.
    const bob = await connect('bob');
    const other = await bob.rpc<{ eventId: string }>('chat.send', {
      sessionId: 's7',
      text: 'mine',
      key: 'k-0123456789',
    });
    const bobs = await bob.rpc<{ messages: Array<{ content: string }> }>('chat.history', { sessionId: 's7' });
    expect(other.eventId).toBe(first.eventId);
    expect(bobs.messages[0]?.content).toBe('mine');
    await expect(ann.rpc('chat.send', { sessionId: 's6', text: 'x', key: 'short' })).rejects.toMatchObject({
      code: 'bad_request',
    });
  });

  it("refuses another user's session with forbidden", async () => {
    const ann = await connect('ann');
    const bob = await connect('bob');
    const w = await watch(ann, 's3');
    const { eventId } = await ann.rpc<{ eventId: string }>('chat.send', { sessionId: 's3', text: 'secret plans' });
    await w.until((e) => e.data.type === 'END');
    for (const [method, params] of [
      ['chat.history', { sessionId: 's3' }],
      ['chat.title', { sessionId: 's3' }],
      ['chat.send', { sessionId: 's3', text: 'let me in' }],
      ['chat.cancel', { sessionId: 's3', eventId }],
    ] as const) {
      await expect(bob.rpc(method, params)).rejects.toMatchObject({ code: 'forbidden' });
    }
    // Nor may bob read the stream itself.
    const denied = bob.subscribe('chat:s3');
    await expect(denied.ready).rejects.toMatchObject({ code: 'forbidden' });
    // The owner still can; an unknown session is empty, not an error.
    await expect(ann.rpc('chat.title', { sessionId: 's3' })).resolves.toEqual({ title: 'secret plans' });
    await expect(ann.rpc('chat.history', { sessionId: 's3' })).resolves.toMatchObject({ title: 'secret plans' });
    await expect(bob.rpc('chat.history', { sessionId: 'fresh' })).resolves.toEqual({ messages: [] });
  });

  it('chat.title is the first words of the first question, and stays', async () => {
    const ann = await connect('ann');
    const w = await watch(ann, 's4');
    const first = await ann.rpc<{ eventId: string }>('chat.send', {
      sessionId: 's4',
      text: 'Explain presence tracking in rooms with many members please',
    });
    await w.until((e) => e.event_id === first.eventId && e.data.type === 'END');
    await ann.rpc('chat.send', { sessionId: 's4', text: 'And something else entirely' });
    await expect(ann.rpc('chat.title', { sessionId: 's4' })).resolves.toEqual({
      title: 'Explain presence tracking in rooms with…',
    });
  });

  it("chat.sessions lists the caller's sessions with a title, most recent first; chat.forget drops an exchange", async () => {
    const ann = await connect('ann');
    const bob = await connect('bob');
    for (const [id, text] of [
      ['a1', 'first question here'],
      ['a2', 'second one'],
    ] as const) {
      const w = await watch(ann, id);
      const { eventId } = await ann.rpc<{ eventId: string }>('chat.send', { sessionId: id, text });
      await w.until((e) => e.event_id === eventId && e.data.type === 'END');
    }
    await watch(ann, 'empty'); // claimed, never asked: not listed
    const list = await ann.rpc<{ sessions: { id: string; title: string }[] }>('chat.sessions');
    expect(list.sessions.map((s) => [s.id, s.title])).toEqual([
      ['a2', 'second one'],
      ['a1', 'first question here'],
    ]);
    await expect(bob.rpc('chat.sessions')).resolves.toEqual({ sessions: [] });

    const history = await ann.rpc<{ messages: { event_id: string }[] }>('chat.history', { sessionId: 'a1' });
    const eventId = history.messages[0]?.event_id;
    await ann.rpc('chat.forget', { sessionId: 'a1', eventId });
    await expect(ann.rpc('chat.history', { sessionId: 'a1' })).resolves.toEqual({ messages: [] });
    await expect(bob.rpc('chat.forget', { sessionId: 'a2', eventId })).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('rejects bad params with bad_request', async () => {
    const ann = await connect('ann');
    await expect(ann.rpc('chat.send', { sessionId: 's5' })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(ann.rpc('chat.send', { text: 'x' })).rejects.toMatchObject({ code: 'bad_request' });
  });
});

describe('assistant text', () => {
  it('answers simply and deterministically', () => {
    expect(replyTo('12 * 7')).toBe('12 * 7 = 84.');
    expect(replyTo('hello')).toMatch(/^Hello!/);
    expect(replyTo('help')).toContain('restate');
    expect(replyTo('a b c?')).toBe(replyTo('a b c?'));
    expect(chunks('one two three').join('')).toBe('one two three');
    expect(makeTitle('short one')).toBe('short one');
  });
});
