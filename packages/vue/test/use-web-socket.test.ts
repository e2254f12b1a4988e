// @vitest-environment happy-dom
/**
 * The seed-compatible `useWebSocket` against a real Tether server: the token guard (option and
 * cookie), connect, unmount, and a send while offline — the notifier is called, the message is
 * queued and delivered once the connection is back (observed as the server's echo).
 */
import { mount } from '@vue/test-utils';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { defineComponent, h } from 'vue';
import { WebSocket } from 'ws';
import {
  NOTICE_EVENT,
  type UseWebSocketOptions,
  type UseWebSocketReturn,
  useWebSocket,
  type WebSocketNotice,
} from '../src/index.js';
import { startServer, type TestServer, token } from './helpers.js';

let t: TestServer;
const cleanups: (() => void)[] = [];

beforeEach(async () => {
  t = await startServer();
  // biome-ignore lint/suspicious/noDocumentCookie: the seed's token cookie is what is under test
  document.cookie = 'token=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
});

afterEach(async () => {
  for (const fn of cleanups.splice(0)) fn();
  await t.close();
});

/** Mounts a component that calls useWebSocket with `options`; returns its API. */
function use(options: UseWebSocketOptions | (() => UseWebSocketOptions)): UseWebSocketReturn {
  let api: UseWebSocketReturn | undefined;
  const C = defineComponent(() => {
    api = useWebSocket(options);
    return () => h('i');
  });
  const w = mount(C);
  cleanups.push(() => w.unmount());
  if (!api) throw new Error('not mounted');
  return api;
}

const heartbeat = (timestamp: number) => ({ type: 'heartbeat', timestamp });

it('connect does nothing without a token', async () => {
  const ws = use({ url: t.url, WebSocket });
  await ws.connect();
  expect(ws.isConnected()).toBe(false);
  expect(ws.client()).toBeUndefined();
  expect(t.server.connections).toBe(0);
  // A token getter that yields nothing is no token either.
  await ws.connect({ url: t.url, WebSocket, token: () => undefined });
  expect(ws.client()).toBeUndefined();
  expect(t.server.connections).toBe(0);
});

it('connects with the token option, or with the token cookie by default; unmount disconnects', async () => {
  const a = use(() => ({ url: t.url, WebSocket, token: () => token('ann') }));
  await a.connect();
  expect(a.isConnected()).toBe(true);
  expect(t.server.connections).toBe(1);

  // biome-ignore lint/suspicious/noDocumentCookie: the seed's token cookie is what is under test
  document.cookie = `token=${await token('bob')}`;
  let api: UseWebSocketReturn | undefined;
  const C = defineComponent(() => {
    api = useWebSocket({ url: t.url, WebSocket });
    return () => h('i');
  });
  const w = mount(C);
  await api?.connect();
  expect(api?.isConnected()).toBe(true);
  await vi.waitFor(() => expect(t.server.connections).toBe(2));
  w.unmount();
  expect(api?.isConnected()).toBe(false);
  await vi.waitFor(() => expect(t.server.connections).toBe(1));
});

it('sendMessage while offline notifies, queues, and delivers once back online', async () => {
  const notices: WebSocketNotice[] = [];
  const received: unknown[] = [];
  const ws = use({
    url: t.url,
    WebSocket,
    token: () => token(),
    reconnect: { initialDelay: 50 },
    notify: (n) => notices.push(n),
    onMessage: (m) => received.push(m),
  });
  await ws.connect();
  ws.sendMessage(heartbeat(1));
  await vi.waitFor(() => expect(received).toContainEqual(heartbeat(1)));
  expect(notices).toEqual([]);

  await t.server.close();
  await vi.waitFor(() => expect(ws.isConnected()).toBe(false));
  ws.sendMessage(heartbeat(2));
  expect(notices).toEqual([expect.objectContaining({ kind: 'offline', data: heartbeat(2) })]);
  expect(received).not.toContainEqual(heartbeat(2));

  await t.restart();
  await vi.waitFor(() => expect(received).toContainEqual(heartbeat(2)));
  expect(ws.isConnected()).toBe(true);
  expect(received.filter((m) => JSON.stringify(m) === JSON.stringify(heartbeat(2)))).toHaveLength(1);
});

it('a message sent before any connection is queued and delivered by connect()', async () => {
  const notices: WebSocketNotice[] = [];
  const received: unknown[] = [];
  const ws = use({
    url: t.url,
    WebSocket,
    token: () => token(),
    notify: (n) => notices.push(n),
    onMessage: (m) => received.push(m),
  });
  ws.sendMessage(heartbeat(3));
  expect(notices).toHaveLength(1);
  await ws.connect();
  await vi.waitFor(() => expect(received).toContainEqual(heartbeat(3)));
});

it('the default notifier dispatches a tether:notice event and warns once', async () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const seen: WebSocketNotice[] = [];
  const listener = (e: Event) => seen.push((e as CustomEvent<WebSocketNotice>).detail);
  window.addEventListener(NOTICE_EVENT, listener);
  try {
    const ws = use({ url: t.url, WebSocket });
    ws.sendMessage({ hello: 1 });
    expect(seen).toEqual([expect.objectContaining({ kind: 'offline', data: { hello: 1 } })]);
    expect(warn).toHaveBeenCalledTimes(1);
  } finally {
    window.removeEventListener(NOTICE_EVENT, listener);
    warn.mockRestore();
  }
});

it('unmounting while connect() awaits its token opens nothing afterwards', async () => {
  const jwt = await token();
  let give: (value: string) => void = () => {};
  let api: UseWebSocketReturn | undefined;
  const C = defineComponent(() => {
    api = useWebSocket({ url: t.url, WebSocket, token: () => new Promise<string>((r) => (give = r)) });
    return () => h('i');
  });
  const w = mount(C);
  const pending = api?.connect();
  w.unmount();
  give(jwt);
  await pending;
  expect(api?.client()).toBeUndefined();
  expect(api?.isConnected()).toBe(false);
  expect(t.server.connections).toBe(0);
});
