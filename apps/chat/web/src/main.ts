import { createTether } from '@tether/vue';
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import { fetchToken } from './session.js';
import './style.css';

const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
// Connects only after login (App.vue calls client.connect()); the token getter runs on every reconnect.
const tether = createTether({ url: `${scheme}://${location.host}/ws`, token: fetchToken, autoConnect: false });

createApp(App).use(tether).use(createPinia()).mount('#app');
