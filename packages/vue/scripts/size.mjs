// What @tether/vue adds to a Vue app, and that an app that does not share carries no sharing code:
// a one-component app (esbuild bundle + minify, ESM for browsers, Vue's production build, gzip
// level 9) with `createTether` from `@tether/vue`, minus the same app without Tether; and the app
// with `@tether/vue/share`'s `createTether({ share: 'tabs' })`, reported for comparison. Fails when
// the sharing code (`@tether/client/share`, issue 12) leaks into the `@tether/vue` app, or above
// LIMIT: room for the core client (7,010 B now, budget 7,040 B in @tether/client's size script)
// plus the plugin (~150 B).
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const LIMIT = 7680;
const src = new URL('../src', import.meta.url).pathname;
const app = (imports, use) =>
  `import { createApp, h } from 'vue';${imports}
createApp({ render: () => h('p', 'hi') })${use}.mount('#app');`;
const bundle = async (contents) => {
  const out = await build({
    stdin: { contents, resolveDir: src, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['source'],
    define: {
      'process.env.NODE_ENV': '"production"',
      __VUE_OPTIONS_API__: 'false',
      __VUE_PROD_DEVTOOLS__: 'false',
      __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
    },
    write: false,
    logLevel: 'warning',
  });
  const code = out.outputFiles[0].contents;
  // `SharedWorker` is named only by the share entry (it survives minification: a global's property).
  return { gzip: gzipSync(code, { level: 9 }).length, shares: new TextDecoder().decode(code).includes('SharedWorker') };
};
const use = ".use(createTether({ url: '/ws', token: 't' }))";
const vue = await bundle(app('', ''));
const core = await bundle(app("import { createTether } from './index.ts';", use));
const shared = await bundle(
  app("import { createTether } from './share.ts';", ".use(createTether({ url: '/ws', token: 't', share: 'tabs' }))"),
);
const added = core.gzip - vue.gzip;
console.log(`@tether/vue: +${added} B min+gzip on a Vue app (${core.gzip} B with Vue; limit ${LIMIT} B)`);
console.log(`@tether/vue/share with share: 'tabs': +${shared.gzip - vue.gzip} B min+gzip on a Vue app`);
if (core.shares) console.error('the sharing code leaked into an app that imports only @tether/vue');
if (!shared.shares) console.error('no sharing code found in the @tether/vue/share app: the leak check is blind');
if (core.shares || !shared.shares || added > LIMIT) process.exit(1);
