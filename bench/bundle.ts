/**
 * Client bundle sizes, every library through the same esbuild settings: its whole public API
 * (`export * from 'pkg'`), bundled and minified as browser ESM (ES2020), then gzip level 9 and
 * brotli quality 11. A library that is not installed is reported as such, not guessed; what a
 * library's own build drags in (a Node polyfill, a fallback transport) is said in its note, not
 * cut out, so every figure is what `import … from 'pkg'` costs an app.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export interface BundleSize {
  name: string;
  version: string | null;
  minified: number | null;
  gzip: number | null;
  brotli: number | null;
  /** What the figure includes beyond the library's own code, or why there is no figure. */
  note?: string;
}

const LIBRARIES = ['@tether/client', 'socket.io-client', 'centrifuge', 'phoenix', 'partysocket'];

/**
 * Read from each package's build (checked against centrifuge 5.7.4, phoenix 1.8.16, partysocket
 * 1.3.0), because no metafile sees them: code inlined in a prebuilt file is that package's own.
 */
const NOTES: Record<string, string> = {
  centrifuge:
    "its prebuilt ESM inlines Node's `events` EventEmitter polyfill (~6.7 KB min, 2.3 KB gzip of the figure); JSON codec only (protobuf is the separate `centrifuge/build/protobuf` entry)",
  phoenix: 'Socket, Channel, Presence and the LongPoll fallback transport',
  partysocket:
    'PartySocket + ReconnectingWebSocket; needs a global EventTarget (its polyfill is a separate import, not counted); React hooks are a separate entry',
};

const here = new URL('.', import.meta.url).pathname;
const require = createRequire(import.meta.url);

/**
 * A package's version from its package.json, found along Node's lookup path (centrifuge and
 * phoenix don't export `./package.json`, so `require('pkg/package.json')` can't be used).
 */
function versionOf(name: string): string | null {
  for (const dir of require.resolve.paths(name) ?? []) {
    const file = join(dir, name, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return null;
}

/** The other npm packages esbuild put into the bundle (socket.io-client's engine.io-client, …). */
function alsoBundled(name: string, inputs: Record<string, { bytesInOutput: number }>): string[] {
  const found = new Set<string>();
  for (const [path, { bytesInOutput }] of Object.entries(inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
    if (pkg && pkg !== name && bytesInOutput > 0) found.add(pkg);
  }
  return [...found].sort();
}

export async function bundleSizes(): Promise<BundleSize[]> {
  const out: BundleSize[] = [];
  for (const name of LIBRARIES) {
    const version = versionOf(name);
    if (version === null) {
      out.push({ name, version, minified: null, gzip: null, brotli: null, note: 'not installed' });
      continue;
    }
    try {
      const result = await build({
        stdin: { contents: `export * from '${name}';`, resolveDir: here },
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2020',
        // Tether's packages resolve to their TypeScript source (the same code `tsc` emits to dist).
        conditions: ['source'],
        write: false,
        metafile: true,
        logLevel: 'silent',
      });
      const code = (result.outputFiles[0] as { contents: Uint8Array }).contents;
      const output = Object.values(result.metafile.outputs)[0];
      const deps = output ? alsoBundled(name, output.inputs) : [];
      const note = [NOTES[name], deps.length ? `bundles ${deps.join(', ')}` : undefined].filter(Boolean).join('; ');
      out.push({
        name,
        version,
        minified: code.length,
        gzip: gzipSync(code, { level: 9 }).length,
        brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
        ...(note ? { note } : {}),
      });
    } catch (err) {
      out.push({
        name,
        version,
        minified: null,
        gzip: null,
        brotli: null,
        note: (err as Error).message.split('\n')[0],
      });
    }
  }
  return out;
}
