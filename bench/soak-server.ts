/**
 * The server under soak, in its own process (`--expose-gc`): prints `{"port": N}` once
 * listening. RPC `soak.sample` runs a full GC and answers the process's heap, RSS, handles and
 * timers, so the soak samples the server alone, not its clients.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer } from '@tether/server';
import { SECRET } from './shared.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

// Unref'd timers (the server's per-connection heartbeat and deadline timers) are invisible to
// getActiveResourcesInfo(), so live timers are counted here: created minus cleared or fired.
const liveTimers = new Set<unknown>();
const realTimeout = globalThis.setTimeout;
const realInterval = globalThis.setInterval;
const realClearTimeout = globalThis.clearTimeout;
const realClearInterval = globalThis.clearInterval;
globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const t = realTimeout(
    (...a: unknown[]) => {
      liveTimers.delete(t);
      fn(...a);
    },
    ms,
    ...args,
  );
  liveTimers.add(t);
  return t;
}) as typeof setTimeout;
globalThis.setInterval = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const t = realInterval(fn, ms, ...args);
  liveTimers.add(t);
  return t;
}) as typeof setInterval;
globalThis.clearTimeout = ((t: Parameters<typeof clearTimeout>[0]) => {
  liveTimers.delete(t);
  realClearTimeout(t);
}) as typeof clearTimeout;
globalThis.clearInterval = ((t: Parameters<typeof clearInterval>[0]) => {
  liveTimers.delete(t);
  realClearInterval(t);
}) as typeof clearInterval;

const tether = createServer({
  host: '127.0.0.1',
  port: 0,
  logLevel: 'silent',
  auth: { jwtSecret: SECRET },
  limits: { maxConnections: 20_000, messagesPerSecond: 1_000 },
  // Short history keeps the broker's memory a function of channels, not of the run's length.
  namespaces: { soak: { presence: true, history: { size: 100, ttl: '1m' } } },
});
tether.rpc('soak.sample', () => {
  gc?.();
  const m = process.memoryUsage();
  const resources = process.getActiveResourcesInfo();
  const count = (kind: string): number => resources.filter((r) => r === kind).length;
  const sample = {
    heapUsed: m.heapUsed,
    rss: m.rss,
    handles: resources.length - count('Timeout') - count('Immediate'),
    timers: liveTimers.size,
    connections: tether.connections,
    lagP99: lag.percentile(99) / 1e6,
  };
  lag.reset();
  return sample;
});
const { port } = await tether.listen();
process.stdout.write(`${JSON.stringify({ port })}\n`);
