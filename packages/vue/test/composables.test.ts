// @vitest-environment happy-dom
/**
 * The plugin and composables against a real Tether server on loopback: one shared connection and
 * state, reference-counted channels observed from the server side, presence, and cleanup.
 */
import { mount, type VueWrapper } from '@vue/test-utils';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { defineComponent, h, nextTick, ref, watch } from 'vue';
import { WebSocket } from 'ws';
import { createTether, type TetherPlugin, useChannel, usePresence, useTether } from '../src/index.js';
import { startServer, subscriptionGauge, type TestServer, token } from './helpers.js';

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

const StateView = defineComponent({
  props: { label: { type: String, required: true } },
  setup(props) {
    const { state, isConnected } = useTether();
    return () => h('p', { class: props.label }, `${state.value}:${isConnected.value}`);
  },
});

const ChannelView = defineComponent({
  props: { name: { type: String, required: true }, keep: { type: Number, default: 200 } },
  setup(props) {
    const { messages, status } = useChannel<{ n: number }>(() => props.name, { keep: props.keep });
    return () =>
      h(
        'ul',
        { 'data-status': status.value },
        messages.value.map((m) => h('li', String(m.n))),
      );
  },
});

it('two components share one connection and see the same state, live', async () => {
  const App = defineComponent(() => () => h('div', [h(StateView, { label: 'a' }), h(StateView, { label: 'b' })]));
  wrapper = mount(App, { global: { plugins: [tether()] } });
  await vi.waitFor(() => expect(wrapper?.find('.a').text()).toBe('open:true'));
  expect(wrapper.find('.b').text()).toBe('open:true');
  expect(t.server.connections).toBe(1);

  // The server goes away: both components see the same transition.
  await t.server.close();
  await vi.waitFor(() => expect(wrapper?.find('.a').text()).toMatch(/^(reconnecting|connecting):false$/));
  expect(wrapper.find('.b').text()).toBe(wrapper.find('.a').text());
  await t.restart();
  await vi.waitFor(() => expect(wrapper?.find('.b').text()).toBe('open:true'));
  expect(wrapper.find('.a').text()).toBe('open:true');
  expect(t.server.connections).toBe(1);
});

it('two components on one channel make ONE subscription; the last unmount unsubscribes', async () => {
  const showA = ref(true);
  const showB = ref(true);
  const App = defineComponent(
    () => () =>
      h('div', [
        showA.value ? h(ChannelView, { name: 'room:lobby', class: 'a' }) : null,
        showB.value ? h(ChannelView, { name: 'room:lobby', class: 'b' }) : null,
      ]),
  );
  wrapper = mount(App, { global: { plugins: [tether()] } });
  await vi.waitFor(() => expect(wrapper?.find('.a').attributes('data-status')).toBe('subscribed'));
  expect(wrapper.find('.b').attributes('data-status')).toBe('subscribed');
  expect(t.subscribes).toEqual(['room:lobby']);
  expect(await subscriptionGauge(t.server)).toBe(1);

  await t.server.publish('room:lobby', { n: 1 });
  await vi.waitFor(() =>
    expect(
      wrapper
        ?.find('.a')
        .findAll('li')
        .map((li) => li.text()),
    ).toEqual(['1']),
  );
  expect(
    wrapper
      .find('.b')
      .findAll('li')
      .map((li) => li.text()),
  ).toEqual(['1']);

  // One leaves: the other still receives, and nothing was unsubscribed on the server.
  showA.value = false;
  await nextTick();
  await t.server.publish('room:lobby', { n: 2 });
  await vi.waitFor(() =>
    expect(
      wrapper
        ?.find('.b')
        .findAll('li')
        .map((li) => li.text()),
    ).toEqual(['1', '2']),
  );
  expect(await subscriptionGauge(t.server)).toBe(1);

  // The last one leaves: the server sees the subscription end.
  showB.value = false;
  await nextTick();
  await vi.waitFor(async () => expect(await subscriptionGauge(t.server)).toBe(0));
  expect(t.subscribes).toEqual(['room:lobby']);
  // Only the app-wide state listener remains on the client; the channel is free for a new subscribe.
  expect(plugin?.client?.listenerCount()).toBe(1);
  expect(() => plugin?.client?.subscribe('room:lobby').unsubscribe()).not.toThrow();
});

it('composables without the plugin throw a TypeError that names the fix', () => {
  const Bare = defineComponent(() => {
    useChannel('room:x');
    return () => h('i');
  });
  // The warning Vue prints for the aborted setup is expected here.
  expect(() => mount(Bare, { global: { config: { warnHandler: () => {} } } })).toThrow(/app\.use\(createTether/);
});

it('a name change re-subscribes; keep bounds the list', async () => {
  const name = ref('room:one');
  const App = defineComponent(() => () => h(ChannelView, { name: name.value, keep: 3 }));
  wrapper = mount(App, { global: { plugins: [tether()] } });
  await vi.waitFor(() => expect(wrapper?.find('ul').attributes('data-status')).toBe('subscribed'));
  for (let n = 1; n <= 5; n++) await t.server.publish('room:one', { n });
  await vi.waitFor(() => expect(wrapper?.findAll('li').map((li) => li.text())).toEqual(['3', '4', '5']));

  name.value = 'room:two';
  await vi.waitFor(() => expect(t.subscribes).toEqual(['room:one', 'room:two']));
  await vi.waitFor(() => expect(wrapper?.find('ul').attributes('data-status')).toBe('subscribed'));
  expect(wrapper.findAll('li')).toHaveLength(0);
  await t.server.publish('room:one', { n: 99 });
  await t.server.publish('room:two', { n: 6 });
  await vi.waitFor(() => expect(wrapper?.findAll('li').map((li) => li.text())).toEqual(['6']));
  expect(await subscriptionGauge(t.server)).toBe(1);
});

it('status follows the subscription: back to subscribing while the server is away, subscribed again after', async () => {
  const seen: string[] = [];
  const View = defineComponent(() => {
    const { status } = useChannel('room:s');
    watch(status, (s) => seen.push(s), { immediate: true, flush: 'sync' });
    return () => h('p', { 'data-status': status.value });
  });
  wrapper = mount(View, { global: { plugins: [tether()] } });
  await vi.waitFor(() => expect(wrapper?.find('p').attributes('data-status')).toBe('subscribed'));
  await t.server.close();
  await vi.waitFor(() => expect(wrapper?.find('p').attributes('data-status')).toBe('subscribing'));
  await t.restart();
  await vi.waitFor(() => expect(wrapper?.find('p').attributes('data-status')).toBe('subscribed'));
  expect(seen).toEqual(['subscribing', 'subscribed', 'subscribing', 'subscribed']);
});

it('useChannel publish goes through the shared subscription to every consumer', async () => {
  let pub: ((d: { n: number }) => Promise<unknown>) | undefined;
  const Publisher = defineComponent(() => {
    const { publish } = useChannel<{ n: number }>('room:pub');
    pub = publish;
    return () => h('i');
  });
  const App = defineComponent(() => () => h('div', [h(Publisher), h(ChannelView, { name: 'room:pub' })]));
  wrapper = mount(App, { global: { plugins: [tether()] } });
  await vi.waitFor(() => expect(wrapper?.find('ul').attributes('data-status')).toBe('subscribed'));
  const res = (await pub?.({ n: 7 })) as { offset: number };
  expect(res.offset).toBe(1);
  await vi.waitFor(() => expect(wrapper?.findAll('li').map((li) => li.text())).toEqual(['7']));
  expect(t.subscribes).toEqual(['room:pub']);
});

it('usePresence follows joins and leaves (presence_diff) and counts', async () => {
  const Who = defineComponent(() => {
    const { clients, count } = usePresence('room:p');
    return () =>
      h(
        'p',
        `${clients.value
          .map((c) => c.user)
          .sort()
          .join(',')} (${count.value})`,
      );
  });
  wrapper = mount(Who, { global: { plugins: [tether()] } });
  await vi.waitFor(() => expect(wrapper?.text()).toBe('ann (1)'));

  // Another user (a second app with its own connection) joins, then leaves.
  const other = createTether({ url: t.url, WebSocket, token: () => token('bob') });
  const Join = defineComponent(() => {
    useChannel('room:p');
    return () => h('i');
  });
  const second = mount(Join, { global: { plugins: [other] } });
  try {
    await vi.waitFor(() => expect(wrapper?.text()).toBe('ann,bob (2)'));
  } finally {
    second.unmount();
  }
  await vi.waitFor(() => expect(wrapper?.text()).toBe('ann (1)'));
});

it('unmount leaves no subscription and no listener behind', async () => {
  const p = tether();
  const App = defineComponent(
    () => () =>
      h('div', [h(ChannelView, { name: 'room:x' }), h(ChannelView, { name: 'room:x' }), h(StateView, { label: 'a' })]),
  );
  wrapper = mount(App, { global: { plugins: [p] } });
  const client = p.client;
  if (!client) throw new Error('no client');
  await vi.waitFor(() => expect(wrapper?.find('ul').attributes('data-status')).toBe('subscribed'));
  expect(client.listenerCount()).toBeGreaterThan(0);
  wrapper.unmount();
  wrapper = undefined;
  await vi.waitFor(async () => expect(await subscriptionGauge(t.server)).toBe(0));
  expect(client.listenerCount()).toBe(0);
  expect(client.state).toBe('closed');
  await vi.waitFor(() => expect(t.server.connections).toBe(0));
  // The channel is free again: a fresh subscribe on the same client would throw if one was left.
  expect(() => client.subscribe('room:x').unsubscribe()).not.toThrow();
});

it('a lost history is never silent: gap is set and the channel carries on', async () => {
  let gaps = 0;
  const View = defineComponent(() => {
    const { messages, gap, status } = useChannel<{ n: number }>('room:g', { onGap: () => gaps++ });
    return () =>
      h(
        'p',
        { 'data-status': status.value, 'data-gap': gap.value ? 'yes' : 'no' },
        messages.value.map((m) => m.n).join(','),
      );
  });
  wrapper = mount(View, { global: { plugins: [tether()] } });
  await vi.waitFor(() => expect(wrapper?.find('p').attributes('data-status')).toBe('subscribed'));
  await t.server.publish('room:g', { n: 1 });
  await vi.waitFor(() => expect(wrapper?.text()).toBe('1'));
  expect(wrapper.find('p').attributes('data-gap')).toBe('no');

  // A new memory broker: the channel's history and epoch are gone.
  await t.restart({ fresh: true });
  await vi.waitFor(() => expect(wrapper?.find('p').attributes('data-gap')).toBe('yes'));
  expect(gaps).toBe(1);
  await vi.waitFor(() => expect(wrapper?.find('p').attributes('data-status')).toBe('subscribed'));
  await t.server.publish('room:g', { n: 2 });
  await vi.waitFor(() => expect(wrapper?.text()).toBe('1,2'));
});

it('useChannel publish(data, { key }): the same message sent twice with its key is published once', async () => {
  let publish: ((d: { n: number }, o?: { key?: string }) => Promise<{ offset: number }>) | undefined;
  const Sender = defineComponent(() => {
    const ch = useChannel<{ n: number }>('room:keyed');
    publish = ch.publish;
    return () =>
      h(
        'ul',
        { 'data-status': ch.status.value },
        ch.messages.value.map((m) => h('li', String(m.n))),
      );
  });
  wrapper = mount(Sender, { global: { plugins: [tether()] } });
  await vi.waitFor(() => expect(wrapper?.find('ul').attributes('data-status')).toBe('subscribed'));
  const first = await publish?.({ n: 1 }, { key: 'typed-once' });
  const again = await publish?.({ n: 1 }, { key: 'typed-once' });
  expect(again?.offset).toBe(first?.offset);
  await publish?.({ n: 2 });
  await vi.waitFor(() => expect(wrapper?.findAll('li').map((li) => li.text())).toEqual(['1', '2']));
});
