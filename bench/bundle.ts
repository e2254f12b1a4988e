/**
 * Client bundle sizes, every library through the same esbuild settings: its whole public API
 * (`export * from 'pkg'`), bundled and minified as browser ESM (ES2020), then gzip level 9 and
 * brotli quality 11. A library that is not installed is reported as such, not guessed.
 */
import { createRequire } from 'node:module';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export interface BundleSize {
  name: string;
  version: string | null;
  minified: number | null;
  gzip: number | null;
  brotli: number | null;
  note?: string;
}

const LIBRARIES = ['@tether/client', 'socket.io-client', 'centrifuge', 'phoenix', 'partysocket'];
const require = createRequire(import.meta.url);

function versionOf(name: string): string | null {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
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
        stdin: { contents: `export * from '${name}';`, resolveDir: new URL('.', import.meta.url).pathname },
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2020',
        // Tether's packages resolve to their TypeScript source (the same code `tsc` emits to dist).
        conditions: ['source'],
        write: false,
        logLevel: 'silent',
      });
      const code = (result.outputFiles[0] as { contents: Uint8Array }).contents;
      out.push({
        name,
        version,
        minified: code.length,
        gzip: gzipSync(code, { level: 9 }).length,
        brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
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
