/**
 * Side-by-side benchmark: Tether against raw `ws` and Socket.IO, in the same run, on the same
 * machine, reported as ratios to raw `ws`. Each server runs in its own process; all clients run
 * here. Usage: `npm run bench` (options: --subscribers N --messages M --size BYTES).
 *
 * Scenarios:
 * - fan-out throughput: one publisher blasts M messages; time until each of N subscribers has all M.
 * - fan-out latency: one message at a time; time from publish until the last subscriber has it.
 * - round trip: one client, sequential request/reply (rpc / ack / echo).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createClient } from '@tether/client';
import { SignJWT } from 'jose';
import { io as ioClient, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { CHANNEL, SECRET } from './shared.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '100' },
    messages: { type: 'string', default: '2000' },
    size: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '300' },
  },
});
const SUBSCRIBERS = Number(values.subscribers);
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const PAD = 'x'.repeat(Number(values.size));

type Kind = 'ws' | 'socketio' | 'tether';

interface Subscriber {
  close(): void;
}
interface Harness {
  /** Connects a subscriber whose `onMessage` gets the publish timestamp of every message. */
  subscriber(onMessage: (sentAt: number) => void): Promise<Subscriber>;
  /** A connection that publishes `{t, pad}` and does request/reply. */
  publisher(): Promise<{ publish(sentAt: number): void; request(): Promise<void>; close(): void }>;
}

async function startServer(kind: Kind): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./servers.ts', import.meta.url).pathname, kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { port: (JSON.parse(line) as { port: number }).port, child };
}

const openWs = async (url: string, protocol?: string) => {
  const ws = new WebSocket(url, protocol ? [protocol] : [], { perMessageDeflate: false });
  await once(ws, 'open');
  return ws;
};

function harness(kind: Kind, port: number, token: string): Harness {
  if (kind === 'ws') {
    const url = `ws://127.0.0.1:${port}`;
    return {
      async subscriber(onMessage) {
        const ws = await openWs(url);
        ws.on('message', (data) => onMessage((JSON.parse(data.toString()) as { t: number }).t));
        return { close: () => ws.close() };
      },
      async publisher() {
        const ws = await openWs(url);
        return {
          publish: (t) => ws.send(JSON.stringify({ t, pad: PAD })),
          async request() {
            ws.send(JSON.stringify({ rpc: 1, pad: PAD }));
            await once(ws, 'message');
          },
          close: () => ws.close(),
        };
      },
    };
  }
  if (kind === 'socketio') {
    const connect = async (): Promise<Socket> => {
      const socket = ioClient(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true });
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      return socket;
    };
    return {
      async subscriber(onMessage) {
        const socket = await connect();
        socket.on('msg', (data: { t: number }) => onMessage(data.t));
        return { close: () => socket.close() };
      },
      async publisher() {
        const socket = await connect();
        return {
          publish: (t) => socket.emit('pub', { t, pad: PAD }),
          request: async () => {
            await socket.emitWithAck('rpc', { pad: PAD });
          },
          close: () => socket.close(),
        };
      },
    };
  }
  const url = `ws://127.0.0.1:${port}/ws`;
  return {
    async subscriber(onMessage) {
      const client = createClient({ url, token, WebSocket });
      await client.connect();
      const sub = client.subscribe<{ t: number }>(CHANNEL, { onMessage: (data) => onMessage(data.t) });
      await sub.ready;
      return { close: () => client.close() };
    },
    async publisher() {
      const client = createClient({ url, token, WebSocket });
      await client.connect();
      let id = 0;
      return {
        // Fire and forget, as the other two do; the reply is not awaited.
        publish: (t) => void client.publish(CHANNEL, { t, pad: PAD }).catch(() => {}),
        request: async () => {
          await client.rpc('echo', { pad: PAD, n: id++ });
        },
        close: () => client.close(),
      };
    },
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

interface Result {
  throughput: number;
  latencyP50: number;
  latencyP99: number;
  rttP50: number;
}

async function measure(kind: Kind, token: string): Promise<Result> {
  const { port, child } = await startServer(kind);
  try {
    const h = harness(kind, port, token);
    let received = 0;
    let target = 0;
    let onTarget: (() => void) | undefined;
    const latencies: number[] = [];
    let recordLatency = false;
    const subs: Subscriber[] = [];
    for (let i = 0; i < SUBSCRIBERS; i++) {
      subs.push(
        await h.subscriber((t) => {
          received++;
          if (recordLatency && received === target) latencies.push(performance.now() - t);
          if (received === target) onTarget?.();
        }),
      );
    }
    const pub = await h.publisher();
    const until = (n: number) =>
      new Promise<void>((resolve, reject) => {
        target = n;
        const timer = setTimeout(() => reject(new Error(`${kind}: ${received}/${n} delivered after 60 s`)), 60_000);
        onTarget = () => {
          clearTimeout(timer);
          resolve();
        };
        if (received >= n) onTarget();
      });

    // Warm-up, then throughput.
    received = 0;
    for (let i = 0; i < 50; i++) pub.publish(performance.now());
    await until(50 * SUBSCRIBERS);
    received = 0;
    const started = performance.now();
    for (let i = 0; i < MESSAGES; i++) pub.publish(performance.now());
    await until(MESSAGES * SUBSCRIBERS);
    const throughput = (MESSAGES * SUBSCRIBERS) / ((performance.now() - started) / 1000);

    // Latency: one message in flight at a time, until the last subscriber has it.
    recordLatency = true;
    for (let i = 0; i < ROUNDS; i++) {
      received = 0;
      const done = until(SUBSCRIBERS);
      pub.publish(performance.now());
      await done;
    }
    recordLatency = false;

    const rtts: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now();
      await pub.request();
      rtts.push(performance.now() - t);
    }
    pub.close();
    for (const s of subs) s.close();
    latencies.sort((a, b) => a - b);
    rtts.sort((a, b) => a - b);
    return {
      throughput,
      latencyP50: percentile(latencies, 0.5),
      latencyP99: percentile(latencies, 0.99),
      rttP50: percentile(rtts, 0.5),
    };
  } finally {
    child.kill('SIGKILL');
  }
}

const token = await new SignJWT({})
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject('bench')
  .setExpirationTime('1h')
  .sign(new TextEncoder().encode(SECRET));

const kinds: Kind[] = ['ws', 'socketio', 'tether'];
const results = {} as Record<Kind, Result>;
for (const kind of kinds) results[kind] = await measure(kind, token);

const base = results.ws;
const fmt = (n: number, digits = 2) => n.toFixed(digits);
console.log(
  `\nfan-out to ${SUBSCRIBERS} subscribers, ${MESSAGES} messages of ~${PAD.length} bytes; ${ROUNDS} latency and round-trip rounds; node ${process.version}\n`,
);
console.log('| server | deliveries/s | × ws | latency p50 ms | p99 ms | × ws (p50) | round trip p50 ms | × ws |');
console.log('|---|---|---|---|---|---|---|---|');
for (const kind of kinds) {
  const r = results[kind];
  console.log(
    `| ${kind} | ${Math.round(r.throughput)} | ${fmt(r.throughput / base.throughput)} | ${fmt(r.latencyP50)} | ${fmt(r.latencyP99)} | ${fmt(r.latencyP50 / base.latencyP50)} | ${fmt(r.rttP50, 3)} | ${fmt(r.rttP50 / base.rttP50)} |`,
  );
}
process.exit(0);
