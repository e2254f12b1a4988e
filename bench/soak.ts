/**
 * Soak: thousands of connections with constant churn (connect, subscribe, publish, disconnect)
 * against one server process, publications throughout, for a bounded time. Every few seconds the
 * server's heap after a full GC, RSS, open handles and timers are sampled; persistent witness
 * clients count every acknowledged publication on their channels (lost / duplicated). Writes a
 * table (bench/out/soak.md), the samples (soak.json) and a plot (soak.svg); exits 1 when
 * something grew or was lost. Run by hand: `npm run soak -- --duration 90 --connections 5000`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { signToken } from '@tether/server';
import WebSocket from 'ws';
import { SECRET } from './shared.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '90' },
    connections: { type: 'string', default: '5000' },
    churn: { type: 'string', default: '100' },
    rate: { type: 'string', default: '200' },
    sample: { type: 'string', default: '5' },
    channels: { type: 'string', default: '100' },
  },
});
const DURATION = Number(values.duration) * 1000;
const CONNECTIONS = Number(values.connections);
const CHURN = Number(values.churn);
const RATE = Number(values.rate);
const SAMPLE = Number(values.sample) * 1000;
const CHANNELS = Number(values.channels);
const WITNESSES = 20;
const OUT = new URL('./out/', import.meta.url);

type Frame = Record<string, unknown> & { type: string };

/** A raw protocol client: answers pings, resolves replies by id, hands messages to `onMessage`. */
class Conn {
  private nextId = 1;
  private readonly pending = new Map<number, (f: Frame) => void>();
  onMessage: (f: Frame) => void = () => {};
  readonly closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((r) => ws.once('close', () => r()));
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      if (f.type === 'ping') ws.send('{"type":"pong"}');
      else if (f.type === 'reply') {
        this.pending.get(f.id as number)?.(f);
        this.pending.delete(f.id as number);
      } else if (f.type === 'message') this.onMessage(f);
    });
  }

  static async open(port: number, token: string): Promise<Conn> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['tether.v1'], {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    const c = new Conn(ws);
    await once(ws, 'open');
    return c;
  }

  request(frame: Record<string, unknown>): Promise<Frame> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) return reject(new Error('closed'));
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ ...frame, id }));
      this.closed.then(() => reject(new Error('closed')));
    });
  }
}

interface Sample {
  t: number;
  heapMiB: number;
  rssMiB: number;
  handles: number;
  timers: number;
  connections: number;
  lagP99: number;
  opened: number;
  closed: number;
  published: number;
}

async function startServer(): Promise<{ port: number; child: ChildProcess }> {
  const script = new URL('./soak-server.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--expose-gc', '--conditions=source', '--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line')) as [string];
  return { port: (JSON.parse(line) as { port: number }).port, child };
}

async function main(): Promise<void> {
  const { port, child } = await startServer();
  const tokens = await Promise.all(
    Array.from({ length: 50 }, (_, i) => signToken(SECRET, { user: `u${i}`, expiresIn: 3_600 })),
  );
  const token = (): string => tokens[Math.floor(Math.random() * tokens.length)] as string;
  const channel = (n: number): string => `soak:c${n % CHANNELS}`;

  // Witnesses stay for the whole run: every acknowledged publication on their channels must reach them once.
  const acked = new Map<string, Set<number>>();
  const seen = new Map<string, number[]>();
  const from = new Map<string, number>();
  const witnesses: Conn[] = [];
  for (let w = 0; w < WITNESSES; w++) {
    const c = await Conn.open(port, token());
    for (let k = w; k < CHANNELS; k += WITNESSES) {
      const ch = channel(k);
      const reply = await c.request({ type: 'subscribe', channel: ch });
      from.set(ch, (reply.result as { offset: number }).offset);
      seen.set(ch, []);
    }
    c.onMessage = (f) => seen.get(f.channel as string)?.push(f.offset as number);
    witnesses.push(c);
  }
  const sampler = await Conn.open(port, token());

  const live = new Set<Conn>();
  const counts = { opened: 0, closed: 0, published: 0, failedOpens: 0 };
  const openOne = async (): Promise<void> => {
    try {
      const c = await Conn.open(port, token());
      counts.opened++;
      const ch = channel(Math.floor(Math.random() * CHANNELS));
      await c.request({ type: 'subscribe', channel: ch });
      (c as Conn & { channel?: string }).channel = ch;
      live.add(c);
      c.closed.then(() => live.delete(c));
    } catch {
      counts.failedOpens++;
    }
  };
  const closeOne = (): void => {
    const victims = [...live];
    const c = victims[Math.floor(Math.random() * victims.length)];
    if (!c) return;
    live.delete(c);
    counts.closed++;
    // Half say goodbye, half vanish: both must be cleaned up.
    if (Math.random() < 0.5) c.ws.close(1000);
    else c.ws.terminate();
  };

  console.log(`soak: ramping up to ${CONNECTIONS} connections on port ${port}`);
  for (let i = 0; i < CONNECTIONS; i += 250)
    await Promise.all(Array.from({ length: Math.min(250, CONNECTIONS - i) }, openOne));
  console.log(`soak: ${live.size} connections; churn ${CHURN}/s, ${RATE} publications/s for ${DURATION / 1000} s`);

  const samples: Sample[] = [];
  const start = Date.now();
  const sample = async (): Promise<void> => {
    const r = (await sampler.request({ type: 'rpc', method: 'soak.sample' })).result as Record<string, number>;
    const s: Sample = {
      t: Math.round((Date.now() - start) / 1000),
      heapMiB: (r.heapUsed as number) / 2 ** 20,
      rssMiB: (r.rss as number) / 2 ** 20,
      handles: r.handles as number,
      timers: r.timers as number,
      connections: r.connections as number,
      lagP99: r.lagP99 as number,
      opened: counts.opened,
      closed: counts.closed,
      published: counts.published,
    };
    samples.push(s);
    console.log(
      `t=${s.t}s heap ${s.heapMiB.toFixed(1)} MiB rss ${s.rssMiB.toFixed(0)} MiB handles ${s.handles} timers ${s.timers} conns ${s.connections} lag p99 ${s.lagP99.toFixed(0)} ms`,
    );
  };
  await sample();

  const churnTimer = setInterval(() => {
    const n = Math.max(1, Math.round(CHURN / 10));
    for (let i = 0; i < n; i++) closeOne();
    for (let i = 0; i < n; i++) void openOne();
  }, 100);
  const publishTimer = setInterval(() => {
    const all = [...live];
    for (let i = 0; i < Math.max(1, Math.round(RATE / 20)); i++) {
      const c = all[Math.floor(Math.random() * all.length)] as (Conn & { channel?: string }) | undefined;
      if (!c?.channel) continue;
      const ch = c.channel;
      c.request({ type: 'publish', channel: ch, data: { at: Date.now() } }).then(
        (reply) => {
          if (!reply.ok) return;
          counts.published++;
          const set = acked.get(ch) ?? new Set<number>();
          set.add((reply.result as { offset: number }).offset);
          acked.set(ch, set);
        },
        () => {},
      );
    }
  }, 50);
  while (Date.now() - start < DURATION) {
    await new Promise((r) => setTimeout(r, SAMPLE));
    await sample();
  }
  clearInterval(churnTimer);
  clearInterval(publishTimer);
  // Let the last publications land before counting.
  await new Promise((r) => setTimeout(r, 1_000));

  let checked = 0;
  let lost = 0;
  let duplicated = 0;
  for (const [ch, offsets] of seen) {
    const got = new Map<number, number>();
    for (const o of offsets) got.set(o, (got.get(o) ?? 0) + 1);
    for (const n of got.values()) if (n > 1) duplicated += n - 1;
    for (const o of acked.get(ch) ?? []) {
      if (o <= (from.get(ch) ?? 0)) continue;
      checked++;
      if (!got.has(o)) lost++;
    }
  }

  for (const c of [...live, ...witnesses, sampler]) c.ws.terminate();
  child.kill('SIGKILL');
  report(samples, { checked, lost, duplicated, ...counts });
}

/** Mean of `key` over the samples in [from, to) of the run (fractions). */
function mean(samples: Sample[], key: keyof Sample, from: number, to: number): number {
  const part = samples.slice(
    Math.floor(samples.length * from),
    Math.max(Math.floor(samples.length * from) + 1, Math.floor(samples.length * to)),
  );
  return part.reduce((s, x) => s + (x[key] as number), 0) / part.length;
}

function report(
  samples: Sample[],
  totals: {
    checked: number;
    lost: number;
    duplicated: number;
    opened: number;
    closed: number;
    published: number;
    failedOpens: number;
  },
): void {
  // Growth: the last quarter against the second (the first holds the warm-up).
  const growth = (key: keyof Sample): number => mean(samples, key, 0.75, 1) / mean(samples, key, 0.25, 0.5) - 1;
  const verdict = {
    heap: growth('heapMiB'),
    rss: growth('rssMiB'),
    handles: growth('handles'),
    timers: growth('timers'),
  };
  // Handles and timers count objects: a rise of a few dozen on a base of a few (the server keeps
  // no timer per connection) is noise, so they fail only past 10 % and past 1 % of the connections.
  const grew = (key: 'handles' | 'timers'): boolean =>
    mean(samples, key, 0.75, 1) - mean(samples, key, 0.25, 0.5) >
    Math.max(0.1 * mean(samples, key, 0.25, 0.5), CONNECTIONS / 100);
  const failed = verdict.heap > 0.25 || grew('handles') || grew('timers') || totals.lost > 0 || totals.duplicated > 0;
  const rows = samples.map(
    (s) =>
      `| ${s.t} | ${s.connections} | ${s.heapMiB.toFixed(1)} | ${s.rssMiB.toFixed(0)} | ${s.handles} | ${s.timers} | ${s.lagP99.toFixed(0)} | ${s.opened} | ${s.closed} | ${s.published} |`,
  );
  const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
  const md = [
    `# Soak, ${new Date().toISOString().slice(0, 16)}Z`,
    '',
    `\`npm run soak -- --duration ${DURATION / 1000} --connections ${CONNECTIONS} --churn ${CHURN} --rate ${RATE}\`, Node ${process.version}`,
    '',
    '| t (s) | connections | heap after GC (MiB) | RSS (MiB) | handles | timers | loop lag p99 (ms) | opened | closed | published |',
    '| ----- | ----------- | ------------------- | --------- | ------- | ------ | ----------------- | ------ | ------ | --------- |',
    ...rows,
    '',
    `Growth, last quarter vs second: heap ${pct(verdict.heap)}, RSS ${pct(verdict.rss)}, handles ${pct(verdict.handles)}, timers ${pct(verdict.timers)}.`,
    `Connections churned: ${totals.opened} opened, ${totals.closed} closed (${totals.failedOpens} failed opens). Publications acknowledged: ${totals.published}; checked at witnesses: ${totals.checked}; lost ${totals.lost}; duplicated ${totals.duplicated}.`,
    `Verdict: ${failed ? 'FAILED' : 'flat'}.`,
    '',
  ].join('\n');
  mkdirSync(OUT, { recursive: true });
  writeFileSync(new URL('soak.md', OUT), md);
  writeFileSync(new URL('soak.json', OUT), JSON.stringify({ samples, totals, verdict }, null, 2));
  writeFileSync(new URL('soak.svg', OUT), plot(samples));
  console.log(`\n${md}`);
  console.log(`written: ${new URL('soak.md', OUT).pathname}, soak.json, soak.svg`);
  process.exitCode = failed ? 1 : 0;
}

/** Four small line charts (heap, RSS, handles, timers) against time, as an SVG document. */
function plot(samples: Sample[]): string {
  const W = 360;
  const H = 180;
  const pad = 36;
  const panels: [keyof Sample, string, string][] = [
    ['heapMiB', 'heap after GC (MiB)', '#1f77b4'],
    ['rssMiB', 'RSS (MiB)', '#ff7f0e'],
    ['handles', 'open handles', '#2ca02c'],
    ['timers', 'timers', '#d62728'],
  ];
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const parts = panels.map(([key, label, color], i) => {
    const x0 = (i % 2) * (W + 20);
    const y0 = Math.floor(i / 2) * (H + 20);
    const ys = samples.map((s) => s[key] as number);
    const yMax = Math.max(1, ...ys) * 1.1;
    const px = (t: number): number => x0 + pad + (t / tMax) * (W - pad - 10);
    const py = (v: number): number => y0 + H - pad + 10 - (v / yMax) * (H - pad - 10);
    const points = samples.map((s) => `${px(s.t).toFixed(1)},${py(s[key] as number).toFixed(1)}`).join(' ');
    return [
      `<rect x="${x0}" y="${y0}" width="${W}" height="${H}" fill="#fff" stroke="#ccc"/>`,
      `<text x="${x0 + pad}" y="${y0 + 16}" font-size="12">${label}</text>`,
      `<line x1="${px(0)}" y1="${py(0)}" x2="${px(tMax)}" y2="${py(0)}" stroke="#999"/>`,
      `<line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${py(yMax)}" stroke="#999"/>`,
      `<text x="${x0 + 2}" y="${py(yMax) + 10}" font-size="10">${yMax.toFixed(0)}</text>`,
      `<text x="${x0 + 2}" y="${py(0)}" font-size="10">0</text>`,
      `<text x="${px(tMax) - 30}" y="${py(0) + 14}" font-size="10">${tMax} s</text>`,
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points}"/>`,
    ].join('\n');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W + 20}" height="${2 * H + 20}" font-family="sans-serif" role="img">\n<title>Soak: connections, heap, RSS and handles over time</title>\n${parts.join('\n')}\n</svg>\n`;
}

await main();
