#!/usr/bin/env node
// The consumer test: what a user outside this repository gets from the registry. It packs every
// publishable package from the checkout (each `prepack` cleans and builds it), installs the
// tarballs into fresh temporary projects with plain `npm install` (no workspace links; the npm
// cache is reused), and there:
//   app      (client, server, vue, redis, pinia, ws) a Node ESM round trip — server, client,
//            subscribe, publish, rpc; the same from CommonJS with require(); a strict TypeScript
//            file importing every public entry, checked with `skipLibCheck: false` under node16
//            and bundler resolution; `npx tether --version`, `npx tether serve --help`, and
//            `npx tether serve` without @tether/sqlite naming the package to install
//   browser  (client) no msgpackr installed; its types check with DOM libs and no Node types
//   redis    (redis) no better-sqlite3, ws, pino or msgpackr installed; the optional pieces
//            (@tether/protocol/msgpack, @tether/redis/testing) fail naming the package to install
//   sqlite   (sqlite, installed with --ignore-scripts so better-sqlite3 is not compiled) its types
// Usage: node scripts/consumer-test.mjs [--keep]   (--keep leaves the temporary folder)
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const work = mkdtempSync(join(tmpdir(), 'tether-consumer-'));
if (!existsSync(tsc)) throw new Error(`no TypeScript at ${tsc}: run npm ci first`);
const started = Date.now();
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const timings = [];

/** Runs a command; resolves with its output, rejects (with the output) on a non-zero exit unless `allowFail`. */
function sh(cmd, args, { cwd = work, allowFail = false, env } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    child.stdout.on('data', (d) => {
      out += d;
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 || allowFail) resolvePromise({ code, out, stdout });
      else reject(new Error(`\`${cmd} ${args.join(' ')}\` in ${cwd} exited ${code}:\n${out}`));
    });
  });
}

async function step(name, fn) {
  const t = Date.now();
  const result = await fn();
  timings.push([name, seconds(t)]);
  console.log(`ok  ${name} (${seconds(t)})`);
  return result;
}

function assert(condition, message) {
  if (!condition) throw new Error(`consumer test: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Pack: every workspace package that is not private and has a build.
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const packages = rootManifest.workspaces
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => !manifest.private && manifest.scripts?.build);
const packs = join(work, 'packs');
const tarballs = await step(`pack ${packages.length} packages`, async () => {
  await mkdir(packs);
  const args = ['pack', '--json', '--pack-destination', packs, ...packages.flatMap(({ dir }) => ['-w', dir])];
  // The builds print to stdout too; npm's JSON report is the last thing, from a line `[` on.
  const { stdout } = await sh('npm', args, { cwd: root });
  const byName = {};
  for (const { name, filename, files } of JSON.parse(stdout.slice(stdout.search(/^\[$/m)))) {
    const paths = files.map((f) => f.path);
    assert(paths.includes('LICENSE'), `${name} tarball has no LICENSE`);
    assert(
      paths.some((p) => p.startsWith('dist/')),
      `${name} tarball has no dist/`,
    );
    byName[name] = join(packs, filename);
  }
  for (const { dir } of packages) {
    const text = readFileSync(join(root, dir, 'package.json'), 'utf8');
    assert(text.includes('"source"') || !text.includes('./src/'), `${dir}/package.json was not restored after pack`);
  }
  return byName;
});
for (const [name, file] of Object.entries(tarballs)) {
  const { out } = await sh('tar', ['-xOzf', file, 'package/package.json']);
  assert(!out.includes('"source"') && !out.includes('./src/'), `${name}: the packed manifest still points at src/`);
}

// ---------------------------------------------------------------------------------------------
// Install: four fresh projects, in parallel.
const tgz = (...names) =>
  names.map((n) => {
    assert(tarballs[n], `no tarball for ${n}`);
    return tarballs[n];
  });
const projects = {
  app: {
    installs: [
      ...tgz('@tether/protocol', '@tether/broker', '@tether/client', '@tether/server', '@tether/redis', '@tether/vue'),
      'pinia@4.1.0',
      'ws@8.23.0',
    ],
  },
  browser: { installs: tgz('@tether/protocol', '@tether/client') },
  redis: { installs: tgz('@tether/protocol', '@tether/broker', '@tether/redis') },
  sqlite: { installs: tgz('@tether/protocol', '@tether/broker', '@tether/sqlite'), flags: ['--ignore-scripts'] },
};
const npmInstall = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
await step('install the tarballs into 4 fresh projects', () =>
  Promise.all(
    Object.entries(projects).map(async ([name, { installs, flags = [] }]) => {
      const dir = join(work, name);
      await mkdir(dir);
      await writeFile(join(dir, 'package.json'), `${JSON.stringify({ name: `consumer-${name}`, private: true })}\n`);
      const t = Date.now();
      await sh('npm', [...npmInstall, ...flags, ...installs], { cwd: dir });
      console.log(`    ${name}: ${seconds(t)}`);
    }),
  ),
);
const app = join(work, 'app');

/** Every package name installed anywhere in the tree of `dir`. */
async function installedNames(dir) {
  const { out } = await sh('npm', ['ls', '--all', '--json'], { cwd: dir, allowFail: true });
  const names = new Set();
  const walk = (deps) => {
    for (const [name, info] of Object.entries(deps ?? {})) {
      // An optional peer that is not installed is listed as `{}` (no version): not installed.
      if (info.missing || info.version === undefined) continue;
      names.add(name);
      walk(info.dependencies);
    }
  };
  walk(JSON.parse(out).dependencies);
  return names;
}

await step('no @tether package came from the registry', async () => {
  for (const dir of Object.keys(projects)) {
    const lock = JSON.parse(readFileSync(join(work, dir, 'package-lock.json'), 'utf8'));
    for (const [path, entry] of Object.entries(lock.packages))
      if (path.includes('node_modules/@tether/'))
        assert(entry.resolved?.startsWith('file:'), `${dir}: ${path} resolved from ${entry.resolved}`);
  }
});

// ---------------------------------------------------------------------------------------------
// (1) and (2): the round trip from ESM and from CommonJS.
const roundTrip = (load) => `${load}
const SECRET = 'consumer-test-secret';
const tether = createServer({ host: '127.0.0.1', port: 0, auth: { jwtSecret: SECRET }, broker: createMemoryBroker() });
tether.rpc('math.add', (params) => params.a + params.b);
const { port } = await tether.listen();
const client = createClient({ url: 'ws://127.0.0.1:' + port + '/ws', WebSocket, token: () => signToken(SECRET, { user: 'ada' }) });
try {
  await client.connect();
  const got = [];
  let delivered;
  const arrived = new Promise((r) => { delivered = r; });
  const sub = client.subscribe('room:lobby', { onMessage: (data) => { got.push(data); delivered(); } });
  await sub.ready;
  await sub.publish({ text: 'hi' });
  await Promise.race([arrived, new Promise((_, reject) => setTimeout(() => reject(new Error('no message within 5 s')), 5000))]);
  const sum = await client.rpc('math.add', { a: 2, b: 3 });
  if (JSON.stringify(got) !== JSON.stringify([{ text: 'hi' }]) || sum !== 5)
    throw new Error('round trip: got ' + JSON.stringify({ got, sum }));
  console.log('round trip ok');
} finally {
  client.close();
  await tether.close();
}
`;
await writeFile(
  join(app, 'esm.mjs'),
  roundTrip(`import { createServer, createMemoryBroker, signToken } from '@tether/server';
import { createClient } from '@tether/client';
import { WebSocket } from 'ws';`),
);
await writeFile(
  join(app, 'cjs.cjs'),
  `const { createServer, createMemoryBroker, signToken } = require('@tether/server');
const { createClient } = require('@tether/client');
const { WebSocket } = require('ws');
for (const entry of ['@tether/protocol', '@tether/protocol/msgpack', '@tether/broker', '@tether/redis', '@tether/vue', '@tether/vue/chat', '@tether/vue/share'])
  if (Object.keys(require(entry)).length === 0) throw new Error('require(' + entry + ') is empty');
(async () => {
${roundTrip('')}
})().catch((err) => { console.error(err); process.exit(1); });
`,
);
await step('Node ESM round trip (server, client, subscribe, publish, rpc)', async () => {
  const { out } = await sh('node', ['esm.mjs'], { cwd: app });
  assert(out.includes('round trip ok'), out);
});
await step('CommonJS round trip with require()', async () => {
  const { out } = await sh('node', ['--no-warnings', 'cjs.cjs'], { cwd: app });
  assert(out.includes('round trip ok'), out);
});

// ---------------------------------------------------------------------------------------------
// (3) strict TypeScript over every public entry.
const entries = packages.flatMap(({ manifest }) =>
  Object.keys(manifest.exports)
    .filter((key) => key !== './package.json')
    .map((key) => manifest.name + key.slice(1)),
);
const ident = (entry) => entry.replace(/^@tether\//, '').replace(/[^a-z]/g, '_');
const typeFile = (list) =>
  `${list.map((e) => `import type * as ${ident(e)} from '${e}';`).join('\n')}
export type Everything = [${list.map((e) => `keyof typeof ${ident(e)}`).join(', ')}];
`;
const appEntries = entries.filter((e) => !e.startsWith('@tether/sqlite'));
const sqliteEntries = entries.filter((e) => e.startsWith('@tether/sqlite'));
const browserEntries = ['@tether/client', '@tether/protocol'];
const usage = `
import { createServer, signToken, type TetherServer } from '@tether/server';
import { createClient, type TetherClient } from '@tether/client';
import { createRedisBroker } from '@tether/redis';
import { WebSocket } from 'ws';
export async function typed(): Promise<number> {
  const server: TetherServer = createServer({ auth: { jwtSecret: 's' }, broker: createRedisBroker({}) });
  const token: string = await signToken('s', { user: 'ada', expiresIn: '1h' });
  const client: TetherClient = createClient({ url: 'ws://x/ws', WebSocket, token });
  await server.close();
  client.close();
  return token.length;
}
`;
const tsconfig = (compilerOptions) =>
  `${JSON.stringify(
    {
      compilerOptions: {
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        target: 'ES2022',
        lib: ['ES2022', 'DOM'],
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        ...compilerOptions,
      },
      include: ['*.mts'],
    },
    null,
    2,
  )}\n`;
async function typecheck(dir, files, configs) {
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
  await Promise.all(
    Object.entries(configs).map(async ([name, options]) => {
      await writeFile(join(dir, `tsconfig.${name}.json`), tsconfig(options));
      await sh('node', [tsc, '-p', `tsconfig.${name}.json`], { cwd: dir });
    }),
  );
}
const node16 = { module: 'node16', moduleResolution: 'node16' };
const bundler = { module: 'preserve', moduleResolution: 'bundler' };
await step(`strict tsc, skipLibCheck false, ${entries.length} public entries (node16 and bundler)`, () =>
  Promise.all([
    typecheck(app, { 'entries.mts': typeFile(appEntries), 'usage.mts': usage }, { node16, bundler }),
    typecheck(
      join(work, 'sqlite'),
      { 'entries.mts': typeFile(sqliteEntries) },
      { node16: { ...node16, types: [] }, bundler: { ...bundler, types: [] } },
    ),
    typecheck(
      join(work, 'browser'),
      { 'entries.mts': typeFile(browserEntries) },
      {
        node16: { ...node16, types: [], lib: ['ES2022', 'DOM'] },
        bundler: { ...bundler, types: [], lib: ['ES2022', 'DOM'] },
      },
    ),
  ]),
);

// ---------------------------------------------------------------------------------------------
// (4) the command.
const serverVersion = packages.find(({ manifest }) => manifest.name === '@tether/server').manifest.version;
await step('npx tether --version, serve --help, serve without @tether/sqlite', async () => {
  const version = await sh('npx', ['--no-install', 'tether', '--version'], { cwd: app });
  assert(version.out.includes(serverVersion), `tether --version printed ${JSON.stringify(version.out)}`);
  const help = await sh('npx', ['--no-install', 'tether', 'serve', '--help'], { cwd: app });
  assert(help.out.includes('--broker') && help.out.includes('TETHER_JWT_SECRET'), `serve --help:\n${help.out}`);
  const serve = await sh('npx', ['--no-install', 'tether', 'serve', '--port', '0'], { cwd: app, allowFail: true });
  assert(
    serve.code === 1 && serve.out.includes('npm install @tether/sqlite') && serve.out.includes('--broker memory'),
    `serve without @tether/sqlite (exit ${serve.code}):\n${serve.out}`,
  );
});

// ---------------------------------------------------------------------------------------------
// Only what a user chose gets installed; a missing optional piece names its package.
await step('redis-only and browser projects install only what they need', async () => {
  const { out } = await sh('npm', ['ls'], { cwd: join(work, 'redis') });
  console.log(out.replace(/^/gm, '    '));
  const redis = await installedNames(join(work, 'redis'));
  for (const name of ['better-sqlite3', 'ws', 'pino', 'msgpackr', '@tether/server', '@tether/sqlite'])
    assert(!redis.has(name), `a project with only @tether/redis installed ${name}`);
  assert(redis.has('redis'), 'the redis project has no redis client');
  const browser = await installedNames(join(work, 'browser'));
  assert(!browser.has('msgpackr'), 'a project with only @tether/client installed msgpackr');
  await writeFile(
    join(work, 'redis', 'optional.mjs'),
    `const { createRedisBroker } = await import('@tether/redis');
if (typeof createRedisBroker !== 'function') throw new Error('no createRedisBroker');
for (const [entry, pkg] of [['@tether/protocol/msgpack', 'msgpackr'], ['@tether/redis/testing', 'vitest']]) {
  const err = await import(entry).then(() => undefined, (e) => e);
  if (!err || !String(err.message).includes("'" + pkg + "'")) throw new Error(entry + ' without ' + pkg + ': ' + err);
  console.log(entry + ' without ' + pkg + ': ' + err.message.split(' imported from')[0]);
}
`,
  );
  const optional = await sh('node', ['optional.mjs'], { cwd: join(work, 'redis') });
  console.log(optional.out.replace(/^/gm, '    ').trimEnd());
});

console.log(`\nconsumer test passed in ${seconds(started)} (${work})`);
for (const [name, time] of timings) console.log(`  ${time.padStart(7)}  ${name}`);
if (process.argv.includes('--keep')) console.log(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
