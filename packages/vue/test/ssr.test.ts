// @vitest-environment node
/**
 * SSR: with no `window` (Node environment on purpose, not happy-dom), the plugin creates no client
 * and opens no connection, and the composables render their idle state without throwing.
 */
import { expect, it } from 'vitest';
import { createSSRApp, defineComponent, h } from 'vue';
import { renderToString } from 'vue/server-renderer';
import { createTether, useChannel, usePresence, useTether } from '../src/index.js';
import { startServer } from './helpers.js';

it('renders on the server without connecting or subscribing', async () => {
  expect(typeof window).toBe('undefined');
  const t = await startServer();
  try {
    const plugin = createTether({ url: t.url, token: 'x' });
    const View = defineComponent(() => {
      const { state, isConnected, send } = useTether();
      const { messages, status } = useChannel('room:lobby');
      const { clients } = usePresence('room:lobby');
      const queued = send({ hello: 1 });
      return () =>
        h(
          'p',
          `${state.value}|${isConnected.value}|${status.value}|${messages.value.length}|${clients.value.length}|${queued}`,
        );
    });
    const app = createSSRApp(View);
    app.use(plugin);
    expect(await renderToString(app)).toBe('<p>idle|false|unsubscribed|0|0|false</p>');
    expect(plugin.client).toBeUndefined();
    expect(t.server.connections).toBe(0);
    expect(t.subscribes).toEqual([]);
  } finally {
    await t.close();
  }
});
