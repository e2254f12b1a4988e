// Measures the default browser bundle (JSON codec, everything in src/index.ts): esbuild
// bundle + minify as ESM for browsers, gzip level 9, and fails above the 6 KB budget.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const LIMIT = 6144;
const entry = new URL('../src/index.ts', import.meta.url).pathname;
const result = await build({
  entryPoints: [entry],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  conditions: ['source'],
  write: false,
  logLevel: 'warning',
});
const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 }).length;
console.log(`@tether/client: ${code.length} B minified, ${gzipped} B min+gzip (limit ${LIMIT} B)`);
if (/msgpackr/.test(new TextDecoder().decode(code))) {
  console.error('msgpackr leaked into the default bundle');
  process.exit(1);
}
if (gzipped > LIMIT) process.exit(1);
