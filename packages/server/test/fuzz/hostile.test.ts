/**
 * The seeded fuzzer: tens of thousands of hostile frames over many connections against a server
 * in its own process — application frames over `ws` (both codecs) and wire-level frames and
 * upgrade requests over raw TCP. The server never crashes, answers nothing with `internal` or a
 * stack, stays within a memory bound, and a well-behaved client on it receives every
 * publication meant for it, once and in order. The frame count is asserted.
 *
 * Replay a failure: TETHER_FUZZ_SEED=<seed printed on failure> npx vitest run packages/server/test/fuzz
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { decodeServerFrame, jsonCodec } from '@tether/protocol';
import { msgpackCodec } from '@tether/protocol/msgpack';
import { signToken } from '@tether/server';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import WebSocket from 'ws';
import { hostile } from './hostile.js';
import { bogusUpgrade, encodeFrame, hostileFrames, rawUpgrade } from './raw-ws.js';
import { Rng } from './rng.js';

const SEED = Number(process.env.TETHER_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SECRET = 'fuzz-secret-0123456789abcdef0123456789';
const API_KEY = 'fuzz-api-key-9f8e7d6c';
/** Application frames over `ws`, wire-level frames over raw TCP, bogus upgrades. */
const WS_FRAMES = 10_000;
const RAW_CONNECTIONS = 300;
const BOGUS_UPGRADES = 150;
const PARALLEL = 24;

const script = fileURLToPath(new URL('./fuzz-node.ts', import.meta.url));
let child: ChildProcess;
let port = 0;
let exited: { code: number | null; signal: string | null } | undefined;
let logs = '';

beforeAll(async () => {
  child = spawn(process.execPath, ['--expose-gc', '--conditions=source', '--import', 'tsx', script], {
    env: { ...process.env, FUZZ_SECRET: SECRET, FUZZ_API_KEY: API_KEY, FUZZ_LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  child.stderr?.on('data', (c: Buffer) => {
    logs += c.toString();
  });
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`fuzz node did not start:\n${logs}`)), 15_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (port === 0 && out.includes('\n')) {
        clearTimeout(timer);
        resolve((JSON.parse(out.split('\n')[0] as string) as { port: number }).port);
      }
      logs += c.toString();
    });
  });
}, 20_000);

afterAll(() => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** A `ws` connection that records every frame it receives, decoded. */
function open(token: string, codec: 'json' | 'msgpack'): Promise<{ ws: WebSocket; frames: Record<string, unknown>[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, [codec === 'json' ? 'tether.v1' : 'tether.v1.msgpack'], {
    headers: { authorization: `Bearer ${token}` },
  });
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (data: Buffer, isBinary) => {
    const c = isBinary ? msgpackCodec : jsonCodec;
    const decoded = decodeServerFrame(isBinary ? new Uint8Array(data) : data.toString(), c);
    if (!decoded.ok) throw new Error(`the server sent an undecodable frame: ${data.toString('hex').slice(0, 80)}`);
    const frame = decoded.frame as unknown as Record<string, unknown>;
    if (frame.type === 'ping') ws.send(c.encode({ type: 'pong' }), { binary: isBinary });
    frames.push(frame);
  });
  ws.on('error', () => {});
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, frames }));
    ws.once('error', reject);
  });
}

const closed = (ws: WebSocket): Promise<number> =>
  ws.readyState === WebSocket.CLOSED ? Promise.resolve(-1) : new Promise((r) => ws.once('close', (code) => r(code)));

async function rpcMem(): Promise<{ heapUsed: number; rss: number; maxLag: number }> {
  const { ws, frames } = await open(await signToken(SECRET, { user: 'probe' }), 'json');
  ws.send(JSON.stringify({ type: 'rpc', id: 1, method: 'fuzz.mem' }));
  const end = Date.now() + 5_000;
  for (;;) {
    const reply = frames.find((f) => f.type === 'reply' && f.id === 1);
    if (reply) {
      ws.close();
      return reply.result as { heapUsed: number; rss: number; maxLag: number };
    }
    if (Date.now() > end) throw new Error('no answer to fuzz.mem');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe(`hostile input (seed ${SEED})`, () => {
  it('survives ≥ 10,000 hostile frames over many connections while a good client gets every publication once', async () => {
    onTestFailed(() => {
      console.error(
        `[fuzz] failed with seed ${SEED}; replay: TETHER_FUZZ_SEED=${SEED} npx vitest run packages/server/test/fuzz`,
      );
    });
    // One random stream per worker, derived from the seed: each connection's frames replay exactly.
    const rngFor = (n: number): Rng => new Rng(SEED ^ Math.imul(n + 1, 0x9e3779b1));
    const before = await rpcMem();

    // The well-behaved client: subscribed to a channel only server code may publish on.
    const good = await open(await signToken(SECRET, { user: 'good' }), 'json');
    good.ws.send(JSON.stringify({ type: 'subscribe', id: 1, channel: 'good:stream' }));
    let goodClosed: string | undefined;
    good.ws.on('close', (code, reason) => {
      goodClosed = `closed with ${code} ${String(reason)}`;
    });
    const goodReceived = (): number[] =>
      good.frames.filter((f) => f.type === 'message').map((f) => (f.data as { k: number }).k);
    const publishFailures: string[] = [];
    const deliveries = (async () => {
      for (let k = 1; k <= 200; k++) {
        const res = await fetch(`http://127.0.0.1:${port}/api/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ channel: 'good:stream', data: { k } }),
        }).catch((err: Error) => err);
        if (res instanceof Error || res.status !== 200)
          publishFailures.push(`k=${k}: ${res instanceof Error ? `${res.message} ${String(res.cause)}` : res.status}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    // Application frames over `ws`, PARALLEL connections at a time, reopened when a rule closes one.
    const counts = { ws: 0, raw: 0, upgrades: 0, connections: 0, closes: new Map<number, number>() };
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => signToken(SECRET, { user: `fuzzer${i}` })));
    const received: Record<string, unknown>[] = [];
    const worker = async (w: number): Promise<void> => {
      const rng = rngFor(1 + w);
      const per = Math.ceil(WS_FRAMES / PARALLEL);
      let sent = 0;
      while (sent < per) {
        const codec = rng.chance(0.6) ? 'json' : 'msgpack';
        const { ws, frames } = await open(tokens[w % tokens.length] as string, codec);
        counts.connections++;
        const done = closed(ws);
        while (sent < per && ws.readyState === WebSocket.OPEN) {
          const p = hostile(rng, codec);
          // Counted once the bytes were handed to the socket without error.
          const ok = await new Promise<boolean>((r) => ws.send(p.data, { binary: p.binary }, (err) => r(!err)));
          if (!ok) break;
          sent++;
          counts.ws++;
          if (sent % 50 === 0) await new Promise((r) => setImmediate(r));
        }
        if (ws.readyState === WebSocket.OPEN) ws.close(1000);
        const code = await done;
        counts.closes.set(code, (counts.closes.get(code) ?? 0) + 1);
        received.push(...frames);
      }
    };

    // Wire-level frames over raw TCP.
    const rawToken = await signToken(SECRET, { user: 'raw' });
    const rawWorker = async (w: number): Promise<void> => {
      const rng = rngFor(100 + w);
      for (let i = 0; i < RAW_CONNECTIONS / 4; i++) {
        const socket = await rawUpgrade(port, rawToken, rng.pick(['tether.v1', 'tether.v1.msgpack']));
        counts.connections++;
        const gone = new Promise<void>((r) => socket.once('close', () => r()));
        socket.on('error', () => {});
        for (let n = 0; n < 1 + rng.int(4) && !socket.destroyed; n++) {
          const frames = hostileFrames(rng);
          const bytes = Buffer.concat(frames.map(encodeFrame));
          // Sometimes in pieces, so frame headers straddle TCP segments.
          if (rng.chance(0.3) && bytes.length > 4) {
            const at = 1 + rng.int(bytes.length - 1);
            socket.write(bytes.subarray(0, at));
            await new Promise((r) => setImmediate(r));
            if (!socket.destroyed) socket.write(bytes.subarray(at));
          } else socket.write(bytes);
          counts.raw += frames.length;
        }
        // The server closes what it refused; the rest we close. Either way it must go within a bound.
        setTimeout(() => socket.destroy(), 200).unref();
        await gone;
      }
    };

    const upgradeWorker = async (w: number): Promise<void> => {
      const rng = rngFor(200 + w);
      for (let i = 0; i < BOGUS_UPGRADES / 3; i++) {
        const { request, expect: statuses } = bogusUpgrade(rng, port, rawToken);
        const status = await new Promise<number>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          let head = '';
          socket.on('data', (c: Buffer) => {
            head += c.toString('latin1');
            if (head.includes('\r\n')) {
              resolve(Number(head.slice(9, 12)));
              socket.destroy();
            }
          });
          socket.on('error', () => {});
          socket.on('close', () => resolve(0));
          socket.write(request);
        });
        counts.upgrades++;
        expect({ request: request.slice(0, 80), status }).toEqual({
          request: request.slice(0, 80),
          status: expect.toSatisfy((s: number) => statuses.includes(s)),
        });
      }
    };

    await Promise.all([
      ...Array.from({ length: PARALLEL }, (_, w) => worker(w)),
      ...Array.from({ length: 4 }, (_, w) => rawWorker(w)),
      ...Array.from({ length: 3 }, (_, w) => upgradeWorker(w)),
    ]);
    await deliveries;
    expect(publishFailures).toEqual([]);

    expect(exited).toBeUndefined();
    expect(counts.ws).toBeGreaterThanOrEqual(WS_FRAMES);
    expect(counts.raw).toBeGreaterThanOrEqual(RAW_CONNECTIONS);
    // Nothing the server said was an internal failure or carried a stack trace.
    const errors = received.flatMap((f) => {
      const e = (f.error ?? undefined) as { code: string; message: string } | undefined;
      return e ? [e] : [];
    });
    const internal = errors.filter((e) => e.code === 'internal');
    // On failure, the server's own error lines say which handler threw.
    if (internal.length > 0)
      console.error(
        logs
          .split('\n')
          .filter((l) => l.includes('"level":50'))
          .slice(0, 3)
          .join('\n'),
      );
    expect(internal).toEqual([]);
    expect(errors.filter((e) => /\bat .+:\d+:\d+/.test(e.message))).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    // The good client got all 200, once, in order.
    const end = Date.now() + 5_000;
    while (goodReceived().length < 200 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect({ received: goodReceived(), goodClosed }).toEqual({
      received: Array.from({ length: 200 }, (_, i) => i + 1),
      goodClosed: undefined,
    });
    good.ws.close();

    // Memory after GC is back near where it started: the storm left nothing behind.
    const after = await rpcMem();
    expect(after.heapUsed - before.heapUsed).toBeLessThan(32 * 1024 * 1024);
    expect(exited).toBeUndefined();
    const total = counts.ws + counts.raw + counts.upgrades;
    console.info(
      `[reliability] fuzz seed ${SEED}: ${total} hostile frames (${counts.ws} over ws, ${counts.raw} raw over TCP, ${counts.upgrades} bogus upgrades) over ${counts.connections} connections; closes ${JSON.stringify(Object.fromEntries(counts.closes))}; heap after GC ${(before.heapUsed / 2 ** 20).toFixed(1)} → ${(after.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(after.rss / 2 ** 20).toFixed(0)} MiB; longest event-loop stall ${after.maxLag.toFixed(0)} ms`,
    );
  }, 60_000);

  it('never logged a token or the API key', () => {
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(API_KEY);
    expect(logs).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}/);
  });
});
