/**
 * The server under fuzz, in a process of its own so that a crash shows as an exit and its memory
 * is its own: `node --expose-gc --conditions=source --import tsx fuzz-node.ts`. Prints
 * `{"port":N}` first. Logs go to stdout as JSON lines (level `debug`), for the log scan.
 * RPC `fuzz.mem` runs the GC and answers `{heapUsed, rss, maxLag}` (longest event-loop stall since the last call, ms).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer } from '@tether/server';

const gc = (globalThis as { gc?: () => void }).gc;
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

const tether = createServer({
  host: '127.0.0.1',
  port: 0,
  logLevel: process.env.FUZZ_LOG_LEVEL ?? 'silent',
  auth: { jwtSecret: process.env.FUZZ_SECRET as string },
  apiKey: process.env.FUZZ_API_KEY as string,
  // Generous: the good client answers pings from a test process that is busy sending 10,000 hostile
  // frames, and on two shared cores a 2 s + 2 s window closed it with 4010 now and then. The
  // heartbeat's own rules are proven in limits.test.ts and faults/network.test.ts.
  heartbeat: { interval: 5_000, timeout: 5_000 },
  // Room for thousands of frames per connection: the rules still close the worst, and are counted.
  limits: { messagesPerSecond: 20_000, burst: 20_000, maxMalformed: 300, maxPayload: 16 * 1024 },
  namespaces: {
    // Only server code publishes on `good:`; the fuzzer tries anyway and must be refused.
    good: { publish: 'server', history: { size: 1_000, ttl: '10m' } },
    room: { history: { size: 50, ttl: '1m' } },
  },
});
tether.rpc('fuzz.mem', () => {
  gc?.();
  const m = process.memoryUsage();
  const maxLag = lag.max / 1e6;
  lag.reset();
  return { heapUsed: m.heapUsed, rss: m.rss, maxLag };
});
const { port } = await tether.listen();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.once('SIGTERM', () => {
  tether.close({ deadline: 1_000 }).then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
