// @vitest-environment happy-dom
/**
 * `useChannel(name, { history: N })` against a real Tether server on loopback: a component opens
 * with the channel's last N publications, then goes on live with no gap and no duplicate; a name
 * change loads the new channel's history; a restart recovers instead of loading history again.
 */
import { mount, type VueWrapper } from '@vue/test-utils';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { defineComponent, h, ref } from 'vue';
import { WebSocket } from 'ws';
import { createTether, type TetherPlugin, useChannel } from '../src/index.js';
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

const tether = (): TetherPlugin => {
  plugin = createTether({ url: t.url, WebSocket, token: () => token(), reconnect: { initialDelay: 50 } });
  return plugin;
};

const seen: number[] = [];
const offsets: number[] = [];
const View = defineComponent({
  props: { name: { type: String, required: true } },
  setup(props) {
    const { messages, status, gap } = useChannel<{ n: number }>(() => props.name, {
      history: 3,
      onMessage: (m, frame) => {
        seen.push(m.n);
        offsets.push(frame.offset);
      },
    });
    return () =>
      h(
        'p',
        { 'data-status': status.value, 'data-gap': gap.value ? 'yes' : 'no' },
        messages.value.map((m) => m.n).join(','),
      );
  },
});

const text = (): string | undefined => wrapper?.find('p').text();

it('opens with the last N publications, then continues live, each once', async () => {
  seen.length = 0;
  offsets.length = 0;
  for (let n = 1; n <= 5; n++) await t.server.publish('room:h', { n });
  wrapper = mount(View, { props: { name: 'room:h' }, global: { plugins: [tether()] } });
  await vi.waitFor(() => expect(wrapper?.find('p').attributes('data-status')).toBe('subscribed'));
  // Subscribed means the history is in: no intermediate state without it.
  expect(text()).toBe('3,4,5');
  await t.server.publish('room:h', { n: 6 });
  await vi.waitFor(() => expect(text()).toBe('3,4,5,6'));
  expect(seen).toEqual([3, 4, 5, 6]);
  expect(offsets).toEqual([3, 4, 5, 6]);
  expect(wrapper.find('p').attributes('data-gap')).toBe('no');
});

it("a name change loads the other channel's history; a restart recovers what was missed, not the history again", async () => {
  for (let n = 1; n <= 4; n++) await t.server.publish('room:x', { n });
  for (let n = 10; n <= 11; n++) await t.server.publish('room:y', { n });
  const name = ref('room:x');
  const App = defineComponent(() => () => h(View, { name: name.value }));
  wrapper = mount(App, { global: { plugins: [tether()] } });
  await vi.waitFor(() => expect(text()).toBe('2,3,4'));
  name.value = 'room:y';
  await vi.waitFor(() => expect(text()).toBe('10,11'));

  await t.server.close();
  await vi.waitFor(() => expect(wrapper?.find('p').attributes('data-status')).toBe('subscribing'));
  // The same broker keeps the history: published while the server was away, recovered after.
  await t.broker.publish('room:y', { n: 12 }, { historySize: 100, historyTtl: 600_000, dedupTtl: 60_000 });
  await t.restart();
  await vi.waitFor(() => expect(wrapper?.find('p').attributes('data-status')).toBe('subscribed'));
  await t.server.publish('room:y', { n: 13 });
  await vi.waitFor(() => expect(text()).toBe('10,11,12,13'));
  expect(wrapper.find('p').attributes('data-gap')).toBe('no');
});

it('history must be a whole number', () => {
  const Bad = defineComponent(() => {
    useChannel('room:bad', { history: -1 });
    return () => h('i');
  });
  expect(() => mount(Bad, { global: { plugins: [tether()] } })).toThrow(RangeError);
});
