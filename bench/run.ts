/**
 * Side-by-side benchmark: Tether against raw `ws` and Socket.IO 4 in the same run, as ratios to
 * raw `ws`. Each server is a process of its own pinned to core 0; the load generator
 * (bench/gen.ts) is one more process pinned to core 1; kinds are interleaved within each
 * repetition (their order rotates), and every figure is the median of the repetitions.
 *
 * `npm run bench -- [--quick] [--json] [--reps N] [--only a,b] [--svg FILE] [--md FILE]`
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { bundleSizes } from './bundle.js';
import type { Command } from './gen.js';
import { CORES, fileLimit, GENERATOR_CPU, kill, Lines, SERVER_CPU, spawnNode, TASKSET } from './proc.js';
import { type Figures, machine, markdown, ratios, svg } from './report.js';
import type { Kind } from './wire.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    reps: { type: 'string' },
    only: { type: 'string' },
    svg: { type: 'string' },
    md: { type: 'string' },
    /** Write a V8 CPU profile of every server process into this directory (`--cpu-prof`). */
    prof: { type: 'string' },
  },
});
const QUICK = values.quick === true;
const REPS = Number(values.reps ?? (QUICK ? 1 : 3));
const log = (...args: unknown[]) => process.stderr.write(`${args.join(' ')}\n`);

export interface Scenario {
  id: string;
  command: Omit<Command, 'kind' | 'ports' | 'pids'>;
  kinds: Kind[];
  /** Left out of `--quick`. */
  fullOnly?: boolean;
}

const ALL: Kind[] = ['ws', 'socketio', 'tether'];
/** The full figure, or the reduced one `--quick` uses. */
const q = <T>(full: T, quick: T): T => (QUICK ? quick : full);

const SCENARIOS: Scenario[] = [
  { id: q('idle-10k', 'idle-1k'), command: { scenario: 'idle', n: q(10_000, 1_000), timeoutMs: 60_000 }, kinds: ALL },
  { id: 'idle-19k', command: { scenario: 'idle', n: 19_000, timeoutMs: 90_000 }, kinds: ALL, fullOnly: true },
  {
    id: q('fanout-1k', 'fanout-500'),
    command: { scenario: 'fanout', n: q(1_000, 500), messages: q(500, 100), size: 100, timeoutMs: q(60_000, 10_000) },
    kinds: ALL,
  },
  {
    id: 'fanout-10k',
    command: { scenario: 'fanout', n: 10_000, messages: 50, size: 100, timeoutMs: 60_000 },
    kinds: ALL,
    fullOnly: true,
  },
  {
    // The headline failure: 10k subscribers of one channel with presence on (the default).
    id: 'fanout-10k-room',
    command: { scenario: 'fanout', n: 10_000, messages: 50, size: 100, channel: 'room:fanout', timeoutMs: 120_000 },
    kinds: ['tether'],
    fullOnly: true,
  },
  {
    id: 'latency',
    command: { scenario: 'latency', n: q(1_000, 500), rate: 50, seconds: q(5, 1), size: 100, timeoutMs: 30_000 },
    kinds: ALL,
  },
  {
    id: 'rpc',
    command: { scenario: 'rpc', n: 100, seconds: q(5, 1), size: 100, timeoutMs: 30_000 },
    // MessagePack is left out of `--quick`, which stays under a minute.
    kinds: q<Kind[]>([...ALL, 'ws-json', 'tether-msgpack'], [...ALL, 'ws-json']),
  },
  {
    id: 'join',
    command: { scenario: 'join', n: q(10_000, 500), channel: 'room:lobby', timeoutMs: q(60_000, 5_000) },
    kinds: ALL,
  },
  {
    id: 'join-nopresence',
    command: { scenario: 'join', n: q(10_000, 500), channel: 'bench:lobby', timeoutMs: q(60_000, 5_000) },
    kinds: ['tether'],
  },
  {
    id: 'storm',
    command: {
      scenario: 'storm',
      n: q(10_000, 500),
      channel: 'room:storm',
      downMs: q(2_000, 500),
      timeoutMs: q(60_000, 8_000),
    },
    kinds: ALL,
  },
  {
    id: 'redis-fanout',
    command: { scenario: 'fanout', n: q(1_000, 500), messages: q(500, 100), size: 100, timeoutMs: q(60_000, 10_000) },
    kinds: ['tether-redis'],
  },
  {
    id: 'redis-latency',
    command: { scenario: 'latency', n: 1_000, rate: 50, seconds: 5, size: 100, timeoutMs: 30_000 },
    kinds: ['tether-redis'],
    fullOnly: true,
  },
];

const only = values.only?.split(',');
const scenarios = SCENARIOS.filter((s) => !(QUICK && s.fullOnly) && (!only || only.some((o) => s.id.startsWith(o))));

// ------------------------------------------------------------------ servers

interface Server {
  child: ChildProcess;
  port: number;
  lines: Lines;
}

const serverScript = new URL('./servers.ts', import.meta.url).pathname;

async function startServer(kind: Kind, port = 0, prefix = ''): Promise<Server> {
  const prof = values.prof ? ['--cpu-prof', `--cpu-prof-dir=${values.prof}`] : [];
  const child = spawnNode(SERVER_CPU, [...prof, '--expose-gc', serverScript, kind, String(port), prefix]);
  const lines = new Lines(child);
  const { port: bound } = await lines.next<{ port: number }>(30_000);
  return { child, port: bound, lines };
}

/** `tether-redis` is two nodes on one Redis (both pinned to the server core); others are one. */
async function startServers(kind: Kind, runId: string): Promise<Server[]> {
  if (kind !== 'tether-redis') return [await startServer(kind)];
  const first = await startServer(kind, 0, runId);
  try {
    return [first, await startServer(kind, 0, runId)];
  } catch (err) {
    await kill(first.child);
    throw err;
  }
}

async function memory(server: Server): Promise<unknown> {
  server.child.stdin!.write('mem\n');
  return server.lines.next(30_000);
}

// ------------------------------------------------------------------ generator

let generator: { child: ChildProcess; lines: Lines } | undefined;

function startGenerator() {
  const child = spawnNode(GENERATOR_CPU, [new URL('./gen.ts', import.meta.url).pathname]);
  generator = { child, lines: new Lines(child) };
  return generator;
}

type Result = Record<string, number | boolean | string>;

async function runOnce(scenario: Scenario, kind: Kind, runId: string): Promise<Result> {
  let servers: Server[];
  try {
    servers = await startServers(kind, runId);
  } catch (err) {
    // A server that cannot start (a broken checkout, Redis down) costs this run, not the others.
    return { error: `server did not start: ${err instanceof Error ? err.message : String(err)}`, finished: false };
  }
  const gen = generator ?? startGenerator();
  const command: Command = {
    ...scenario.command,
    kind,
    ports: servers.map((s) => s.port),
    pids: servers.map((s) => s.child.pid as number),
  };
  gen.child.stdin!.write(`${JSON.stringify(command)}\n`);
  const deadline = Date.now() + command.timeoutMs + 120_000;
  try {
    for (;;) {
      const line = await gen.lines.next<{ ask?: { ask: string; downMs?: number }; result?: Result }>(
        Math.max(1, deadline - Date.now()),
      );
      if (line.result) return line.result;
      if (line.ask?.ask === 'mem') {
        gen.child.stdin!.write(`${JSON.stringify(await memory(servers[0] as Server))}\n`);
      } else if (line.ask?.ask === 'restart') {
        const port = (servers[0] as Server).port;
        await Promise.all(servers.map((s) => kill(s.child)));
        await new Promise((r) => setTimeout(r, line.ask?.downMs ?? 2_000));
        servers = [await startServer(kind, port)];
        gen.child.stdin!.write(`${JSON.stringify({ pid: (servers[0] as Server).child.pid })}\n`);
      }
    }
  } catch (err) {
    // The generator is stuck or gone: start a fresh one for the next run.
    await kill(gen.child);
    generator = undefined;
    return { error: err instanceof Error ? err.message : String(err), finished: false };
  } finally {
    await Promise.all(servers.map((s) => kill(s.child)));
  }
}

function median(runs: Result[]): Result {
  const out: Result = {};
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  for (const key of keys) {
    const vals = runs.map((r) => r[key]).filter((v) => v !== undefined);
    if (vals.every((v) => typeof v === 'number')) {
      const sorted = (vals as number[]).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
      out[key] = sorted.length ? (sorted[Math.floor((sorted.length - 1) / 2)] as number) : Number.NaN;
    } else if (vals.every((v) => typeof v === 'boolean')) {
      // A flag that is bad in any repetition stays bad: `finished` needs all, `overloaded` any.
      out[key] = key === 'overloaded' ? vals.some(Boolean) : vals.every(Boolean);
    } else out[key] = String(vals[0]);
  }
  out.reps = runs.length;
  return out;
}

// ------------------------------------------------------------------ main

const started = Date.now();
log(
  `bench: ${QUICK ? 'quick' : 'full'}, ${REPS} repetition(s), ${CORES} cores, taskset ${TASKSET ? 'yes' : 'no'}, file limit ${fileLimit()}`,
);
const runs: Record<string, Partial<Record<Kind, Result[]>>> = {};
const gaveUp = new Set<string>();
const runId = `tether-bench-${Date.now().toString(36)}`;
for (let rep = 0; rep < REPS; rep++) {
  for (const scenario of scenarios) {
    // Rotate the order of kinds every repetition so none always runs first (or last).
    const kinds = scenario.kinds.map((_, i) => scenario.kinds[(i + rep) % scenario.kinds.length] as Kind);
    for (const kind of kinds) {
      const key = `${scenario.id}/${kind}`;
      if (gaveUp.has(key)) continue;
      const t = Date.now();
      const result = await runOnce(scenario, kind, `${runId}-${rep}`);
      const byKind = runs[scenario.id] ?? {};
      runs[scenario.id] = byKind;
      byKind[kind] = [...(byKind[kind] ?? []), result];
      log(`  rep ${rep + 1} ${key}: ${JSON.stringify(result)} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      // A run that could not finish is not repeated: its repetitions would only cost the same timeout.
      if (result.finished === false || result.error) gaveUp.add(key);
    }
  }
}
if (generator) await kill(generator.child);

const results: Figures['results'] = {};
for (const [id, byKind] of Object.entries(runs)) {
  results[id] = {};
  for (const [kind, list] of Object.entries(byKind)) (results[id] as Record<string, Result>)[kind] = median(list);
}
const figures: Figures = {
  machine: machine(),
  mode: QUICK ? 'quick' : 'full',
  reps: REPS,
  seconds: Math.round((Date.now() - started) / 1000),
  results,
  bundle: only && !only.includes('bundle') ? [] : await bundleSizes(),
  ratios: {},
};
figures.ratios = ratios(figures);
await cleanRedis(runId);

console.log(markdown(figures));
if (values.svg) writeFileSync(values.svg, svg(figures));
if (values.md) writeFileSync(values.md, markdown(figures));
if (values.json) console.log(JSON.stringify(figures));
process.exit(0);

/** Deletes the keys the two-node runs left in Redis (their prefix is this run's id). */
async function cleanRedis(prefix: string): Promise<void> {
  if (!scenarios.some((s) => s.kinds.includes('tether-redis'))) return;
  try {
    const { createClient } = await import('redis');
    const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
    await redis.connect();
    const doomed: string[] = [];
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) doomed.push(...keys);
    for (let i = 0; i < doomed.length; i += 500) await redis.del(doomed.slice(i, i + 500));
    await redis.quit();
  } catch (err) {
    log(`could not clean Redis keys ${prefix}*: ${err instanceof Error ? err.message : String(err)}`);
  }
}
