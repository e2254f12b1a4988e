#!/usr/bin/env node
// The line budget for source files: a file a reader cannot read top to bottom is a file doing
// several jobs. Over SOFT lines a file needs a written reason below; over HARD lines it fails.
// Tests, fixtures and generated files are not counted. Run by `npm run lint`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const SOFT = 300;
const HARD = 400;
const root = new URL('..', import.meta.url).pathname;

/** Files allowed past SOFT lines, each with the reason it stays whole. */
const REASONS = {
  'packages/broker/src/conformance/broker.ts': 'one test suite: each case is short, and they read best in one place',
  'packages/redis/src/redis-broker.ts':
    'the outage, backfill and resubscribe paths share one connection state; splitting it spreads one state machine over files',
  'packages/server/src/cli.ts':
    'mostly the flag table of `tether serve`; the option assembly reads it in the same file',
  'packages/vue/src/chat-store.ts':
    'one Pinia store: assembling streamed replies by event_id, the held-events rule and history reload act on the same state',
};

const roots = ['packages', 'apps'];
const skipDirs = new Set(['node_modules', 'dist', 'dist-server', 'test', 'tests', '.data']);
const counted = /\.(ts|vue|mjs)$/;
const notCounted = /\.(test|spec)\.ts$|\.d\.ts$/;

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!skipDirs.has(name)) yield* walk(path);
    } else if (counted.test(name) && !notCounted.test(name) && /[/\\](src|server|scripts)[/\\]/.test(path)) yield path;
  }
}

const over = [];
let failed = false;
for (const top of roots) {
  for (const path of walk(join(root, top))) {
    const lines = readFileSync(path, 'utf8').split('\n').length;
    if (lines <= SOFT) continue;
    const rel = relative(root, path);
    const reason = REASONS[rel];
    if (lines > HARD) {
      failed = true;
      over.push(`  ✗ ${rel}: ${lines} lines, over the hard limit of ${HARD}: split it along its jobs`);
    } else if (!reason) {
      failed = true;
      over.push(`  ✗ ${rel}: ${lines} lines, over ${SOFT} with no reason in scripts/line-budget.mjs`);
    } else over.push(`  · ${rel}: ${lines} lines (${reason})`);
  }
}
for (const path of Object.keys(REASONS)) {
  try {
    statSync(join(root, path));
  } catch {
    failed = true;
    over.push(`  ✗ ${path} has a reason in scripts/line-budget.mjs but no longer exists: remove it`);
  }
}
if (over.length) console.log(`line budget (${SOFT} soft, ${HARD} hard):\n${over.join('\n')}`);
else console.log(`line budget: every source file is within ${SOFT} lines`);
process.exit(failed ? 1 : 0);
