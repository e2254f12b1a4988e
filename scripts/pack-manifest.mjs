#!/usr/bin/env node
// The packing lifecycle of every package (`prepack` and `postpack` in its package.json; npm runs
// them with the package folder as the working directory):
//
//   prepack   restores a manifest left behind by an interrupted pack, deletes dist/, builds the
//             workspace packages this one builds against when their dist/ is missing, builds this
//             one, checks that every path the manifest names (exports, main, types, bin, files)
//             exists, then rewrites package.json for the registry: the workspace-only `source`
//             export condition (it points at src/*.ts, which is not shipped) and the
//             prepack/postpack scripts (they need this repository) are removed. npm packs the
//             package.json as it is on disk after prepack.
//   postpack  puts the workspace package.json back, byte for byte.
//   clean     deletes dist/.
//
// The workspace manifest waits in node_modules/.cache/tether-pack/ at the repository root, so an
// interrupted pack leaves nothing untracked in the package and the next prepack repairs it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = process.cwd();
const manifestPath = join(pkgDir, 'package.json');
const backupDir = join(root, 'node_modules', '.cache', 'tether-pack');
const backupPath = join(backupDir, `${basename(pkgDir)}.package.json`);

const fail = (message) => {
  console.error(`pack-manifest (${basename(pkgDir)}): ${message}`);
  process.exit(1);
};
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

function restore() {
  if (!existsSync(backupPath)) return false;
  copyFileSync(backupPath, manifestPath);
  rmSync(backupPath);
  return true;
}

function run(cwd, args) {
  const result = spawnSync('npm', args, { cwd, stdio: 'inherit' });
  if (result.status !== 0) fail(`\`npm ${args.join(' ')}\` failed in ${cwd}`);
}

/** The workspace folders by package name. */
function workspaces() {
  const byName = new Map();
  for (const ws of readJson(join(root, 'package.json')).workspaces ?? []) {
    const file = join(root, ws, 'package.json');
    if (existsSync(file)) byName.set(readJson(file).name, join(root, ws));
  }
  return byName;
}

/** Every file a manifest points at, except through the `source` condition. */
function shippedPaths(manifest) {
  const paths = [];
  const walk = (node) => {
    if (typeof node === 'string') paths.push(node);
    else if (node && typeof node === 'object')
      for (const [key, value] of Object.entries(node)) if (key !== 'source') walk(value);
  };
  walk(manifest.exports);
  for (const field of ['main', 'types', 'module']) if (manifest[field]) paths.push(manifest[field]);
  if (typeof manifest.bin === 'string') paths.push(manifest.bin);
  else walk(manifest.bin);
  walk(manifest.files);
  return paths.filter((p) => !p.includes('*'));
}

/** Builds the workspace packages `manifest` builds against whose dist/ is missing, dependencies first. */
function buildDependencies(manifest, byName, seen = new Set()) {
  const names = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.devDependencies });
  for (const name of names) {
    const dir = byName.get(name);
    if (!dir || seen.has(name)) continue;
    seen.add(name);
    const dep = readJson(join(dir, 'package.json'));
    buildDependencies(dep, byName, seen);
    const missing = shippedPaths(dep).some((p) => !existsSync(join(dir, p)));
    if (missing && dep.scripts?.build) run(dir, ['run', 'build']);
  }
}

function withoutSource(node) {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key]) => key !== 'source')
      .map(([key, value]) => [key, withoutSource(value)]),
  );
}

function prepack() {
  if (restore()) console.error('pack-manifest: restored the workspace package.json an interrupted pack left behind');
  const text = readFileSync(manifestPath, 'utf8');
  const manifest = JSON.parse(text);
  rmSync(join(pkgDir, 'dist'), { recursive: true, force: true });
  buildDependencies(manifest, workspaces());
  if (manifest.scripts?.build) run(pkgDir, ['run', 'build']);
  const missing = shippedPaths(manifest).filter((p) => !existsSync(join(pkgDir, p)));
  if (missing.length > 0) fail(`the manifest names paths the build did not produce: ${missing.join(', ')}`);
  if (!existsSync(join(pkgDir, 'LICENSE'))) fail('no LICENSE file');

  const published = { ...manifest, exports: withoutSource(manifest.exports) };
  const { prepack: _pre, postpack: _post, ...scripts } = manifest.scripts ?? {};
  published.scripts = scripts;
  mkdirSync(backupDir, { recursive: true });
  writeFileSync(backupPath, text);
  writeFileSync(manifestPath, `${JSON.stringify(published, null, 2)}\n`);
}

switch (process.argv[2]) {
  case 'prepack':
    prepack();
    break;
  case 'postpack':
    if (!restore()) fail('no workspace package.json to restore (was prepack run?)');
    break;
  case 'clean':
    rmSync(join(pkgDir, 'dist'), { recursive: true, force: true });
    break;
  default:
    fail('usage: node scripts/pack-manifest.mjs prepack|postpack|clean');
}
