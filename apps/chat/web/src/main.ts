// @tether/vue/share: createTether with `share: 'tabs'` (the sharing code is bundled only from here).
import { createTether } from '@tether/vue/share';
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import { fetchToken } from './session.js';
import './style.css';

const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
const tether = createTether({
  url: `${scheme}://${location.host}/ws`,
  // Called on every (re)connect: the dev login hands out a fresh token.
  token: fetchToken,
  // A person is waiting: never more than 2 s between two attempts (a server-to-server client
  // would back off further). `online` and a visible tab also trigger an attempt at once.
  reconnect: { minDelay: 500, maxDelay: 2000 },
  // ChatApp connects once someone has logged in.
  autoConnect: false,
  // The tabs of one user share one connection (one presence entry, one copy of each message).
  share: 'tabs',
});

createApp(App).use(tether).use(createPinia()).mount('#app');
