import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// `npm run dev -w @tether/chat-app` serves the app on :5173 and forwards the WebSocket and the
// HTTP API to a `tether serve --dev` on :8088; `vite build` writes the app to apps/chat/dist.
export default defineConfig({
  root: 'web',
  plugins: [vue()],
  build: { outDir: '../dist', emptyOutDir: true },
  server: {
    proxy: {
      '/ws': { target: 'ws://localhost:8088', ws: true },
      '/api': 'http://localhost:8088',
    },
  },
});
