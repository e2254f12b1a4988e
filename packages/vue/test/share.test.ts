// @vitest-environment happy-dom
/**
 * `@tether/vue/share`: the same plugin on `@tether/client/share`'s `createClient`, against a real
 * server on loopback. happy-dom has no Web Locks, so `share: 'tabs'` falls back to a connection of
 * the tab's own here (the shared paths run in Chromium: apps/chat/test/share-tabs.test.ts); and
 * `@tether/vue`'s `createTether` refuses `share` instead of ignoring it.
 */
import { canShare } from '@tether/client/share';
import { mount, type VueWrapper } from '@vue/test-utils';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { defineComponent, h } from 'vue';
import { WebSocket } from 'ws';
import { createTether as createCoreTether, type TetherPlugin, useTether } from '../src/index.js';
import { createTether } from '../src/share.js';
import { startServer, type TestServer, token } from './helpers.js';

let t: TestServer;
let wrapper: VueWrapper | undefined;
let plugin: TetherPlugin | undefined;

beforeEach(async () => {
  t = await startServer();
});

afterEach(async () => {
  wrapper?.unmount();
  wrapper = undefined;
  plugin?.client?.close();
  plugin = undefined;
  await t.close();
});

const StateView = defineComponent(() => {
  const { state } = useTether();
  return () => h('p', state.value);
});

it.each([
  ['with share: tabs', 'tabs'],
  ['without share', undefined],
] as const)('createTether from @tether/vue/share, %s, installs a client the composables use', async (_l, share) => {
  expect(canShare()).toBe(false);
  plugin = createTether({ url: t.url, WebSocket, token: () => token(), share });
  // Synchronous: the plugin's client exists as soon as it is installed.
  wrapper = mount(StateView, { global: { plugins: [plugin] } });
  expect(plugin.client).toBeDefined();
  await vi.waitFor(() => expect(wrapper?.text()).toBe('open'));
  expect(t.server.connections).toBe(1);
  await expect(plugin.client?.ping()).resolves.toBeTypeOf('number');
  // autoConnect and closeOnUnmount are the plugin's, not passed on to the client.
  wrapper.unmount();
  wrapper = undefined;
  await vi.waitFor(() => expect(t.server.connections).toBe(0));
  expect(plugin.client?.state).toBe('closed');
});

it("@tether/vue's createTether refuses share, naming the entry that has it", () => {
  const options = { url: t.url, token: 't', share: 'tabs' } as Parameters<typeof createCoreTether>[0];
  expect(() => createCoreTether(options)).toThrow(/@tether\/vue\/share/);
});
