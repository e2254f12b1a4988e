import vue from '@vitejs/plugin-vue';
import { defaultClientConditions, defineConfig } from 'vite';

// `vite build` writes the page to packages/admin/dist, which `tether serve --admin` serves at
// /admin/ (assets under /admin/assets/). Workspace packages resolve to their sources, so the
// build needs no prior build of @tether/client. `npm run dev -w @tether/admin` forwards the
// socket and the API to a `tether serve --admin` on :8088 (log in there first: the cookie is
// per host, so open the dev page through the same host).
export default defineConfig({
  base: '/admin/',
  plugins: [vue()],
  resolve: { conditions: ['source', ...defaultClientConditions] },
  build: { outDir: 'dist', emptyOutDir: true },
  server: {
    proxy: {
      '/ws': { target: 'ws://localhost:8088', ws: true },
      '/api': 'http://localhost:8088',
    },
  },
});
