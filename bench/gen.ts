/**
 * The load generator: one long-lived process (pinned to its own core by bench/run.ts) that runs
 * one scenario at a time against servers the orchestrator started. Commands arrive as JSON lines
 * on stdin; it answers with one `{"result": …}` line, and may ask the orchestrator for a server's
 * memory (`{"ask":"mem"}`) or for a restart (`{"ask":"restart"}`) on the way. Every wait is
 * bounded: a scenario that cannot finish reports how far it got.
 */
import { createInterface } from 'node:readline';
import { DEFAULT_RECONNECT, reconnectDelay } from '@tether/client';
import { SignJWT } from 'jose';
import { cpuSeconds } from './proc.js';
import { SECRET } from './shared.js';
import { connect, type Kind, stampOf, type WireClient } from './wire.js';

export interface Command {
  scenario: 'idle' | 'fanout' | 'latency' | 'rpc' | 'join' | 'storm';
  kind: Kind;
  ports: number[];
  pids: number[];
  /** Connections / subscribers / RPC clients. */
  n: number;
  /** Fan-out: messages; latency: publications per second. */
  messages?: number;
  rate?: number;
  seconds?: number;
  size?: number;
  /** Tether channel (namespace decides presence). */
  channel?: string;
  /** Storm: how long the server stays down. */
  downMs?: number;
  /** Upper bound of the scenario's main wait. */
  timeoutMs: number;
}

const lines = createInterface({ input: process.stdin });
const inbox: string[] = [];
let wake: (() => void) | undefined;
lines.on('line', (line) => {
  inbox.push(line);
  wake?.();
});
lines.on('close', () => process.exit(0));
async function nextLine(): Promise<string> {
  while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
  wake = undefined;
  return inbox.shift() as string;
}
const say = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
async function ask<T>(question: object): Promise<T> {
  say({ ask: question });
  return JSON.parse(await nextLine()) as T;
}

const token = await new SignJWT({})
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject('bench')
  .setExpirationTime('12h')
  .sign(new TextEncoder().encode(SECRET));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
/** CPU seconds this process used since `since` (the generator's own load). */
const genCpu = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
};
const cpu = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/** Waits until `done()` or `ms` passed; true when done. Polls every 5 ms: cheap and bounded. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  const end = now() + ms;
  while (!done()) {
    if (now() > end) return false;
    await sleep(5);
  }
  return true;
}

/** Runs `fn(i)` for i < n with at most `width` in flight; failures are counted, not thrown. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>, deadline: number): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < n && now() < deadline) {
      const i = next++;
      await fn(i).catch(() => {
        failed++;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
  return failed + Math.max(0, n - next);
}

async function connectAll(c: Command, n: number, subscribe: boolean): Promise<{ clients: WireClient[]; ms: number }> {
  const clients: WireClient[] = [];
  const started = now();
  await pool(
    n,
    200,
    async (i) => {
      const client = await connect(c.kind, c.ports[i % c.ports.length] as number, token);
      if (subscribe) await client.subscribe(c.channel);
      clients.push(client);
    },
    started + c.timeoutMs,
  );
  return { clients, ms: now() - started };
}

const closeAll = async (clients: WireClient[]) => {
  for (const client of clients) client.terminate();
  await sleep(200);
};

const payload = (size: number, extra = '') => `{"t":${now().toFixed(3)},"pad":"${'x'.repeat(size)}"${extra}}`;

const percentile = (sorted: Float64Array | number[], p: number): number =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number);

async function idle(c: Command) {
  type Mem = { rss: number; young: number; heap: number };
  // Memory per connection is the slope between half the connections and all of them: what the
  // first connections cost once (code compiled, modules loaded, pools grown) is in both samples
  // and falls out, the same for every kind.
  const half = Math.floor(c.n / 2);
  const first = await connectAll(c, half, false);
  await sleep(1_000);
  const before = await ask<Mem>({ ask: 'mem' });
  const second = await connectAll(c, c.n - half, false);
  await sleep(1_000);
  const after = await ask<Mem>({ ask: 'mem' });
  const clients = [...first.clients, ...second.clients];
  const added = second.clients.length;
  await closeAll(clients);
  return {
    connected: clients.length,
    connectPerS: clients.length / ((first.ms + second.ms) / 1000),
    // RSS less the young generation's pages: V8 grows that space with the allocation rate of
    // the connect burst (up to tens of MB, whatever the connection count) and it is empty after
    // the GC, so it is no cost of holding a connection; left in, it was most of the run-to-run
    // noise. Subtracted the same way for every kind.
    rssPerConn: (after.rss - after.young - (before.rss - before.young)) / added,
    heapPerConn: (after.heap - before.heap) / added,
  };
}

async function fanout(c: Command) {
  const { clients } = await connectAll(c, c.n, true);
  const pub = await connect(c.kind, c.ports[0] as number, token);
  // A Tether channel of the default namespace takes publications from its subscribers only.
  if (c.channel?.startsWith('room:')) await pub.subscribe(c.channel);
  let delivered = 0;
  for (const s of clients) s.onDelivery = () => delivered++;
  const n = clients.length;
  const size = c.size ?? 100;
  // Warm-up: the JIT and every socket's buffers, then the measured burst.
  for (let i = 0; i < 20; i++) pub.publish(payload(size), c.channel);
  await until(() => delivered >= 20 * n, c.timeoutMs);
  delivered = 0;
  const messages = c.messages ?? 100;
  const cpu0 = cpu(c.pids);
  const gen0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < messages; i++) pub.publish(payload(size), c.channel);
  const finished = await until(() => delivered >= messages * n, c.timeoutMs);
  const seconds = (now() - t0) / 1000;
  const cpuS = cpu(c.pids) - cpu0;
  await closeAll([...clients, pub]);
  return {
    subscribers: n,
    finished,
    deliveredPerS: delivered / seconds,
    deliveredPerCpuS: cpuS > 0 ? delivered / cpuS : Number.NaN,
    serverCpu: cpuS / seconds,
    generatorCpu: genCpu(gen0) / seconds,
  };
}

async function latency(c: Command) {
  const { clients } = await connectAll(c, c.n, true);
  const pub = await connect(c.kind, c.ports[0] as number, token);
  const n = clients.length;
  const rate = c.rate ?? 50;
  const total = Math.round(rate * (c.seconds ?? 5));
  const samples = new Float64Array(total * n);
  let count = 0;
  let record = false;
  let warm = 0;
  for (const s of clients)
    s.onDelivery = (data) => {
      if (!record) {
        warm++;
        return;
      }
      if (count < samples.length) samples[count++] = now() - stampOf(data);
    };
  for (let i = 0; i < 10; i++) pub.publish(payload(c.size ?? 100));
  await until(() => warm >= 10 * n, c.timeoutMs);
  record = true;
  const cpu0 = cpu(c.pids);
  const gen0 = process.cpuUsage();
  const t0 = now();
  const period = 1000 / rate;
  for (let i = 0; i < total; i++) {
    const wait = t0 + i * period - now();
    if (wait > 1) await sleep(wait);
    pub.publish(payload(c.size ?? 100));
  }
  const lastSent = now();
  const finished = await until(() => count >= total * n, Math.min(c.timeoutMs, 10_000));
  const drainMs = now() - lastSent;
  const seconds = (now() - t0) / 1000;
  const cpuS = cpu(c.pids) - cpu0;
  await closeAll([...clients, pub]);
  const sorted = samples.subarray(0, count).sort();
  const serverCpu = cpuS / seconds;
  return {
    subscribers: n,
    rate,
    samples: count,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    serverCpu,
    generatorCpu: genCpu(gen0) / seconds,
    // An overloaded run measures a queue, not latency: say so instead of reporting it.
    overloaded: !finished || drainMs > 1_000 || serverCpu > 0.9,
  };
}

async function rpc(c: Command) {
  const { clients } = await connectAll(c, c.n, false);
  const body = payload(c.size ?? 100, ',"n":1');
  const lat: number[] = [];
  // Warm-up, then the measured closed loop: every client has one request in flight at a time.
  const loop = async (client: WireClient, end: number, keep: boolean) => {
    while (now() < end) {
      const t = now();
      await client.request(body);
      if (keep) lat.push(now() - t);
    }
  };
  await Promise.all(clients.map((cl) => loop(cl, now() + 500, false)));
  const cpu0 = cpu(c.pids);
  const gen0 = process.cpuUsage();
  const t0 = now();
  const end = t0 + (c.seconds ?? 5) * 1000;
  await Promise.race([Promise.all(clients.map((cl) => loop(cl, end, true))), sleep(c.timeoutMs)]);
  const seconds = (now() - t0) / 1000;
  const cpuS = cpu(c.pids) - cpu0;
  await closeAll(clients);
  lat.sort((a, b) => a - b);
  return {
    clients: clients.length,
    perS: lat.length / seconds,
    perCpuS: cpuS > 0 ? lat.length / cpuS : Number.NaN,
    p50: percentile(lat, 0.5),
    p99: percentile(lat, 0.99),
    serverCpu: cpuS / seconds,
    generatorCpu: genCpu(gen0) / seconds,
  };
}

/** N connected clients subscribe to one channel at once: time until every reply and presence frame is in. */
async function join(c: Command) {
  const { clients } = await connectAll(c, c.n, false);
  let frames = 0;
  let presenceFrames = 0;
  let last = now();
  for (const s of clients) {
    s.onPresence = () => {
      presenceFrames++;
      last = now();
    };
  }
  const frames0 = clients.reduce((sum, s) => sum + s.frames, 0);
  let subscribed = 0;
  const cpu0 = cpu(c.pids);
  const t0 = now();
  for (const s of clients)
    s.subscribe(c.channel).then(
      () => {
        subscribed++;
        last = now();
      },
      () => {},
    );
  const allIn = await until(() => subscribed >= clients.length, c.timeoutMs);
  // Presence frames may still be on their way: done once nothing arrived for 500 ms (bounded).
  const quietBy = now() + Math.max(1_000, c.timeoutMs - (now() - t0));
  await until(() => now() - last > 500 || now() > quietBy, c.timeoutMs);
  const quiet = now() - last > 500;
  const ms = (allIn && quiet ? last : now()) - t0;
  frames = clients.reduce((sum, s) => sum + s.frames, 0) - frames0;
  const cpuS = cpu(c.pids) - cpu0;
  await closeAll(clients);
  return {
    clients: clients.length,
    subscribed,
    finished: allIn && quiet,
    ms,
    frames,
    presenceFrames,
    framesPerClient: frames / clients.length,
    serverCpuS: cpuS,
  };
}

/**
 * N subscribed clients; the server is SIGKILLed and started again after `downMs`. Every client
 * reconnects on its own with the Tether client's backoff (the same policy for every kind, so the
 * servers are compared) and resubscribes — Tether with `since`, as its client does.
 */
async function storm(c: Command) {
  const { clients } = await connectAll(c, c.n, true);
  const n = clients.length;
  let back = 0;
  let lastBack = 0;
  let running = true;
  const revive = (index: number, attempt: number): void => {
    if (!running) return;
    setTimeout(
      () => {
        if (!running) return;
        connect(c.kind, c.ports[0] as number, token)
          .then(async (fresh) => {
            const old = clients[index] as WireClient & { position?: unknown };
            (fresh as WireClient & { position?: unknown }).position = old.position;
            fresh.onClose = () => revive(index, 1);
            clients[index] = fresh;
            await fresh.subscribe(c.channel);
            back++;
            lastBack = now();
          })
          .catch(() => revive(index, attempt + 1));
      },
      reconnectDelay('normal', attempt, DEFAULT_RECONNECT),
    );
  };
  clients.forEach((client, i) => {
    client.onClose = () => revive(i, 1);
  });
  const killedAt = now();
  const { pid } = await ask<{ pid: number }>({ ask: 'restart', downMs: c.downMs ?? 2_000 });
  const readyAt = now();
  // CPU of the new server in 250 ms windows until everyone is back.
  let peak = 0;
  let prev = cpuSeconds(pid);
  const cpuStart = prev;
  let prevT = now();
  const sampler = setInterval(() => {
    const cur = cpuSeconds(pid);
    const t = now();
    peak = Math.max(peak, (cur - prev) / ((t - prevT) / 1000));
    prev = cur;
    prevT = t;
  }, 250);
  const finished = await until(() => back >= n, c.timeoutMs);
  clearInterval(sampler);
  running = false;
  const cpuS = cpuSeconds(pid) - cpuStart;
  await closeAll(clients);
  return {
    clients: n,
    back,
    finished,
    backMs: (finished ? lastBack : now()) - readyAt,
    fromKillMs: (finished ? lastBack : now()) - killedAt,
    cpuPeak: peak,
    serverCpuS: cpuS,
  };
}

const run = { idle, fanout, latency, rpc, join, storm };

for (;;) {
  const command = JSON.parse(await nextLine()) as Command;
  try {
    say({ result: await run[command.scenario](command) });
  } catch (err) {
    say({ result: { error: err instanceof Error ? err.message : String(err) } });
  }
}
