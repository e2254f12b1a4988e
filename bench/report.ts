/**
 * Turns the medians into what people read: the machine, the markdown tables (the ones
 * docs/BENCHMARKS.md shows), the ratios to raw `ws` with their goals, and an SVG chart of them.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { BundleSize } from './bundle.js';

type Row = Record<string, number | boolean | string>;

export interface Ratio {
  label: string;
  better: 'higher' | 'lower';
  tether: number | null;
  socketio: number | null;
  goal?: number;
  met?: boolean;
}

export interface Figures {
  machine: Record<string, string | number>;
  mode: string;
  reps: number;
  seconds: number;
  results: Record<string, Record<string, Row>>;
  bundle: BundleSize[];
  ratios: Record<string, Ratio>;
}

const require = createRequire(import.meta.url);
const version = (name: string) => {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'missing';
  }
};

export function machine(): Record<string, string | number> {
  let redis = 'unknown';
  try {
    redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ')[2]?.replace('v=', '') ?? '';
  } catch {}
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    ws: version('ws'),
    'socket.io': version('socket.io'),
    redis,
    /** Other work on the machine skews wall-clock figures more than per-CPU-second ones. */
    loadAverage: loadavg()
      .map((l) => l.toFixed(1))
      .join(' '),
    date: new Date().toISOString(),
  };
}

const num = (r: Row | undefined, field: string): number | null => {
  const v = r?.[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
const div = (a: number | null, b: number | null) => (a !== null && b !== null && b !== 0 ? a / b : null);

/** Latency from an overloaded run is a queue length, not a latency: it yields no figure. */
const latencyOk = (r: Row | undefined) => r !== undefined && r.overloaded !== true;

export function ratios(f: Figures): Record<string, Ratio> {
  const R = f.results;
  const idle = R['idle-10k'] ? 'idle-10k' : 'idle-1k';
  const out: Record<string, Ratio> = {};
  const add = (
    key: string,
    label: string,
    scenario: string,
    field: string,
    better: Ratio['better'],
    goal?: number,
    baseScenario = scenario,
    tetherKind = 'tether',
  ) => {
    const ws = R[baseScenario]?.ws;
    const ok = (r: Row | undefined) => (field.startsWith('p') && scenario.includes('latency') ? latencyOk(r) : true);
    const t = R[scenario]?.[tetherKind];
    const s = R[scenario]?.socketio;
    const base = ok(ws) ? num(ws, field) : null;
    const tether = ok(t) && t?.finished !== false ? div(num(t, field), base) : null;
    const socketio = tetherKind === 'tether' && ok(s) ? div(num(s, field), base) : null;
    const ratio: Ratio = { label, better, tether, socketio };
    if (goal !== undefined) {
      ratio.goal = goal;
      ratio.met = tether !== null && (better === 'higher' ? tether >= goal : tether <= goal);
    }
    out[key] = ratio;
  };
  add('idleRss', `${idle}: RSS per connection`, idle, 'rssPerConn', 'lower', 1.3);
  add('idleHeap', `${idle}: heap per connection`, idle, 'heapPerConn', 'lower', 1.3);
  add('connectRate', `${idle}: connects per second`, idle, 'connectPerS', 'higher');
  if (R['idle-19k']) add('idle19kRss', 'idle-19k: RSS per connection', 'idle-19k', 'rssPerConn', 'lower', 1.3);
  const fan = R['fanout-1k'] ? 'fanout-1k' : 'fanout-500';
  add('fanout1k', `${fan}: delivered/s`, fan, 'deliveredPerS', 'higher', 1.0);
  add('fanout1kCpu', `${fan}: delivered per server CPU-s`, fan, 'deliveredPerCpuS', 'higher', 1.0);
  if (R['fanout-10k']) {
    add('fanout10k', 'fan-out 10k: delivered/s', 'fanout-10k', 'deliveredPerS', 'higher', 1.0);
    add('fanout10kCpu', 'fan-out 10k: delivered per server CPU-s', 'fanout-10k', 'deliveredPerCpuS', 'higher', 1.0);
  }
  if (R['fanout-10k-room'] && R['fanout-10k']) {
    // Tether on the default namespace (presence on) against raw ws's 10k fan-out of the same run.
    const label = 'fan-out 10k, presence on: delivered/s';
    add('fanout10kRoom', label, 'fanout-10k-room', 'deliveredPerS', 'higher', 1.0, 'fanout-10k');
  }
  add('latencyP50', 'latency p50', 'latency', 'p50', 'lower');
  add('latencyP99', 'latency p99', 'latency', 'p99', 'lower', 1.2);
  add('latencyP999', 'latency p99.9', 'latency', 'p999', 'lower');
  add('rpc', 'RPC: round trips/s', 'rpc', 'perS', 'higher');
  add('rpcCpu', 'RPC: round trips per server CPU-s', 'rpc', 'perCpuS', 'higher', 0.85);
  add('rpcP99', 'RPC: p99', 'rpc', 'p99', 'lower', 1.3);
  if (R['redis-fanout'])
    add(
      'redisFanout',
      `2 nodes on Redis: ${fan} delivered/s`,
      'redis-fanout',
      'deliveredPerS',
      'higher',
      undefined,
      fan,
      'tether-redis',
    );
  if (R['redis-latency'])
    add(
      'redisLatencyP99',
      '2 nodes on Redis: latency p99',
      'redis-latency',
      'p99',
      'lower',
      undefined,
      'latency',
      'tether-redis',
    );
  return out;
}

// ------------------------------------------------------------------ markdown

const k = (n: number | null, digits = 0) =>
  n === null ? '—' : n >= 10_000 ? `${(n / 1000).toFixed(digits)}k` : n.toFixed(digits);
const kb = (n: number | null) => (n === null ? '—' : `${(n / 1024).toFixed(1)} KB`);
const ms = (n: number | null) => (n === null ? '—' : n >= 100 ? `${n.toFixed(0)} ms` : `${n.toFixed(2)} ms`);
const x = (n: number | null) => (n === null ? '—' : `${n.toFixed(2)}×`);
const pct = (n: number | null) => (n === null ? '—' : `${Math.round(n * 100)} %`);

function cells(f: Figures, scenario: string, show: (r: Row) => string, kinds = ['ws', 'socketio', 'tether']) {
  return kinds.map((kind) => {
    const r = f.results[scenario]?.[kind];
    if (!r) return '—';
    if (r.error) return `error: ${String(r.error).slice(0, 40)}`;
    return show(r);
  });
}

const unfinished = (r: Row, what: string) => (r.finished === false ? ` (**did not finish**: ${what})` : '');

export function markdown(f: Figures): string {
  const R = f.results;
  const ratio = (key: string) => {
    const r = f.ratios[key];
    if (!r) return '—';
    const goal =
      r.goal === undefined
        ? ''
        : ` (goal ${r.better === 'higher' ? '≥' : '≤'} ${r.goal}: ${r.met ? 'met' : 'not met'})`;
    return `${x(r.tether)}${goal}`;
  };
  const rows: string[][] = [];
  const idle = R['idle-10k'] ? 'idle-10k' : 'idle-1k';
  for (const id of [idle, 'idle-19k']) {
    if (!R[id]) continue;
    const n = num(R[id]?.tether, 'connected') ?? num(R[id]?.ws, 'connected');
    rows.push([
      `${n ?? '?'} idle connections: RSS / heap per connection`,
      ...cells(
        f,
        id,
        (r) => `${kb(num(r, 'rssPerConn'))} / ${kb(num(r, 'heapPerConn'))}${unfinished(r, `${r.connected} connected`)}`,
      ),
      `${ratio(id === 'idle-19k' ? 'idle19kRss' : 'idleRss')} / ${id === 'idle-19k' ? '—' : ratio('idleHeap')}`,
    ]);
    if (id !== 'idle-19k')
      rows.push([
        `${n ?? '?'} idle connections: connects/s`,
        ...cells(f, id, (r) => k(num(r, 'connectPerS'))),
        ratio('connectRate'),
      ]);
  }
  for (const id of ['fanout-500', 'fanout-1k', 'fanout-10k']) {
    if (!R[id]) continue;
    rows.push([
      `${id}: delivered/s (server CPU)`,
      ...cells(
        f,
        id,
        (r) => `${k(num(r, 'deliveredPerS'))} (${pct(num(r, 'serverCpu'))})${unfinished(r, 'timed out')}`,
      ),
      ratio(id === 'fanout-10k' ? 'fanout10k' : 'fanout1k'),
    ]);
    rows.push([
      `${id}: delivered per server CPU-second`,
      ...cells(f, id, (r) => k(num(r, 'deliveredPerCpuS'))),
      ratio(id === 'fanout-10k' ? 'fanout10kCpu' : 'fanout1kCpu'),
    ]);
  }
  if (R['fanout-10k-room']) {
    const t = R['fanout-10k-room'].tether;
    rows.push([
      'fanout-10k on `room:*`, the default namespace (presence on): delivered/s (server CPU)',
      '—',
      '—',
      t ? `${k(num(t, 'deliveredPerS'))} (${pct(num(t, 'serverCpu'))})${unfinished(t, 'timed out')}` : '—',
      ratio('fanout10kRoom'),
    ]);
  }
  if (R.latency) {
    const l = R.latency.ws;
    rows.push([
      `publish → deliver, ${num(l, 'subscribers') ?? '?'} subscribers at ${num(l, 'rate') ?? '?'}/s: p50 / p99 / p99.9`,
      ...cells(f, 'latency', (r) =>
        r.overloaded
          ? `overloaded (CPU ${pct(num(r, 'serverCpu'))})`
          : `${ms(num(r, 'p50'))} / ${ms(num(r, 'p99'))} / ${ms(num(r, 'p999'))}`,
      ),
      `${x(f.ratios.latencyP50?.tether ?? null)} / ${ratio('latencyP99')} / ${x(f.ratios.latencyP999?.tether ?? null)}`,
    ]);
  }
  if (R.rpc) {
    rows.push([
      `RPC echo, ${num(R.rpc.ws, 'clients') ?? '?'} clients closed loop: round trips/s (p99)`,
      ...cells(f, 'rpc', (r) => `${k(num(r, 'perS'))} (${ms(num(r, 'p99'))})`),
      `${ratio('rpc')} (p99 ${ratio('rpcP99')})`,
    ]);
    rows.push([
      'RPC: round trips per server CPU-second',
      ...cells(f, 'rpc', (r) => k(num(r, 'perCpuS'))),
      ratio('rpcCpu'),
    ]);
    const json = R.rpc['ws-json'];
    if (json) {
      const perCpu = num(json, 'perCpuS');
      const t = div(num(R.rpc.tether, 'perCpuS'), perCpu);
      rows.push([
        'RPC per server CPU-second against raw ws that parses and encodes JSON (`ws-json`)',
        k(perCpu),
        '—',
        k(num(R.rpc.tether, 'perCpuS')),
        t === null ? '—' : `${t.toFixed(2)}× ws-json`,
      ]);
    }
    const packed = R.rpc['tether-msgpack'];
    if (packed) {
      const t = div(num(packed, 'perCpuS'), num(R.rpc.ws, 'perCpuS'));
      rows.push([
        'RPC per server CPU-second, Tether with MessagePack (`tether.v1.msgpack`)',
        k(num(R.rpc.ws, 'perCpuS')),
        '—',
        `${k(num(packed, 'perCpuS'))} (p99 ${ms(num(packed, 'p99'))})`,
        t === null ? '—' : `${t.toFixed(2)}×`,
      ]);
    }
  }
  if (R.join) {
    const off = R['join-nopresence']?.tether;
    rows.push([
      `${num(R.join.tether, 'clients') ?? '?'} clients join one channel at once: time (frames received)`,
      ...cells(
        f,
        'join',
        (r) => `${ms(num(r, 'ms'))} (${k(num(r, 'frames'))})${unfinished(r, `${r.subscribed} subscribed`)}`,
      ),
      off ? `presence off: ${ms(num(off, 'ms'))} (${k(num(off, 'frames'))})` : '—',
    ]);
  }
  if (R.storm) {
    rows.push([
      `reconnect storm, ${num(R.storm.tether, 'clients') ?? '?'} subscribed, server SIGKILLed: all back after restart (CPU peak)`,
      ...cells(
        f,
        'storm',
        (r) => `${ms(num(r, 'backMs'))} (${pct(num(r, 'cpuPeak'))})${unfinished(r, `${r.back} back`)}`,
      ),
      `goal ≤ 10 s: ${R.storm.tether && R.storm.tether.finished !== false && (num(R.storm.tether, 'backMs') ?? 1e9) <= 10_000 ? 'met' : 'not met'}`,
    ]);
  }
  if (R['redis-fanout']) {
    const r = R['redis-fanout']['tether-redis'];
    rows.push([
      `${R['fanout-1k'] ? 'fanout-1k' : 'fanout-500'}, two Tether nodes on Redis (half the subscribers each): delivered/s (per server CPU-s)`,
      ...cells(f, R['fanout-1k'] ? 'fanout-1k' : 'fanout-500', (w) => k(num(w, 'deliveredPerS'))).slice(0, 2),
      r ? `${k(num(r, 'deliveredPerS'))} (${k(num(r, 'deliveredPerCpuS'))})${unfinished(r, 'timed out')}` : '—',
      ratio('redisFanout'),
    ]);
  }
  if (R['redis-latency']) {
    const r = R['redis-latency']['tether-redis'];
    rows.push([
      'latency, two Tether nodes on Redis: p50 / p99 / p99.9',
      ...cells(f, 'latency', (w) => `${ms(num(w, 'p50'))} / ${ms(num(w, 'p99'))} / ${ms(num(w, 'p999'))}`).slice(0, 2),
      r ? (r.overloaded ? 'overloaded' : `${ms(num(r, 'p50'))} / ${ms(num(r, 'p99'))} / ${ms(num(r, 'p999'))}`) : '—',
      ratio('redisLatencyP99'),
    ]);
  }
  const table = (head: string[], body: string[][]) =>
    [
      `| ${head.join(' | ')} |`,
      `|${head.map(() => '---').join('|')}|`,
      ...body.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
  const m = f.machine;
  const bundle = f.bundle.length
    ? `\n\n${table(
        ['client', 'version', 'minified', 'min + gzip', 'min + brotli', 'note'],
        f.bundle.map((b) => [
          b.name,
          b.version ?? '—',
          b.minified === null ? '—' : `${(b.minified / 1024).toFixed(1)} KB`,
          b.gzip === null ? '—' : `${(b.gzip / 1024).toFixed(1)} KB`,
          b.brotli === null ? '—' : `${(b.brotli / 1024).toFixed(1)} KB`,
          b.note ?? '',
        ]),
      )}`
    : '';
  return `${f.mode} run, medians of ${f.reps}, ${f.seconds} s; ${m.cpu}, ${m.cores} cores, Node ${m.node}, ws ${m.ws}, Socket.IO ${m['socket.io']}, Redis ${m.redis}, load average ${m.loadAverage}, ${m.date}${
    // `--only bundle` runs no scenario: no empty table above the bundle one.
    rows.length ? `\n\n${table(['scenario', 'raw ws', 'Socket.IO', 'Tether', 'Tether ÷ ws'], rows)}` : ''
  }${bundle}\n`;
}

// ------------------------------------------------------------------ SVG

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars of X ÷ raw ws per figure, a line at 1 (raw ws) and a tick at each goal. */
export function svg(f: Figures): string {
  const entries = Object.values(f.ratios);
  const labelW = 330;
  const plotW = 420;
  const rowH = 30;
  const top = 40;
  const height = top + entries.length * rowH + 40;
  const max = Math.max(
    2,
    ...entries.flatMap((e) => [e.tether ?? 0, e.socketio ?? 0, e.goal ?? 0]).map((v) => Math.min(v, 4)),
  );
  const sx = (v: number) => labelW + (Math.min(v, max) / max) * plotW;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 90}" height="${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>Tether and Socket.IO throughput, latency and memory as ratios to raw ws</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">Tether and Socket.IO ÷ raw ws (${esc(f.mode)} run, ${esc(String(f.machine.date).slice(0, 10))})</text>`,
    `<rect x="${labelW + plotW - 190}" y="8" width="10" height="10" fill="#2563eb"/><text x="${labelW + plotW - 176}" y="17">Tether</text>`,
    `<rect x="${labelW + plotW - 120}" y="8" width="10" height="10" fill="#9ca3af"/><text x="${labelW + plotW - 106}" y="17">Socket.IO</text>`,
    `<line x1="${sx(1)}" y1="${top - 6}" x2="${sx(1)}" y2="${height - 30}" stroke="#111" stroke-dasharray="3,3"/>`,
    `<text x="${sx(1) - 8}" y="${height - 16}">1× ws</text>`,
  ];
  entries.forEach((e, i) => {
    const y = top + i * rowH;
    parts.push(
      `<text x="10" y="${y + 15}">${esc(e.label)} (${e.better} is better)</text>`,
      `<rect x="${labelW}" y="${y + 2}" width="${e.socketio === null ? 0 : sx(e.socketio) - labelW}" height="9" fill="#9ca3af"/>`,
      `<rect x="${labelW}" y="${y + 12}" width="${e.tether === null ? 0 : sx(e.tether) - labelW}" height="11" fill="#2563eb"/>`,
      `<text x="${(e.tether === null ? labelW : sx(e.tether)) + 4}" y="${y + 22}">${e.tether === null ? 'n/a' : `${e.tether.toFixed(2)}×`}</text>`,
    );
    if (e.goal !== undefined)
      parts.push(
        `<line x1="${sx(e.goal)}" y1="${y}" x2="${sx(e.goal)}" y2="${y + 26}" stroke="${e.met ? '#16a34a' : '#dc2626'}" stroke-width="2"><title>goal ${e.goal}</title></line>`,
      );
  });
  parts.push(
    `<text x="10" y="${height - 4}" fill="#555">Vertical ticks: goals (green met, red not met). Bars are cut at ${max}×.</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
