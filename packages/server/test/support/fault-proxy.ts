/**
 * A fault-injecting TCP proxy for tests: put it between a client and a server (or a server and
 * Redis) and break the link on purpose. Modes apply to every open link and to new ones:
 * - `pass`: bytes flow untouched;
 * - `latency(ms, jitter)`: each chunk is held `ms ± jitter` ms, order kept per direction;
 * - `blackhole(dir)`: bytes in `up` (client → server), `down` or `both` directions are silently
 *   dropped, with no FIN or RST — a half-open link; `partition()` also holds new connections
 *   without ever reaching the target;
 * - `cutMidFrame()`: the next chunk towards the client is forwarded all but its last byte, then
 *   both sockets are destroyed — a connection lost in the middle of a frame;
 * - `reset()`: every link is ended with a TCP RST on both sides.
 * `faults` counts the faults injected, so a suite can report them.
 */
import { createServer, type Server, Socket } from 'node:net';

export type Direction = 'up' | 'down' | 'both';

interface Link {
  client: Socket;
  server: Socket | undefined;
  /** Bytes from the client before the target connection opened. */
  pending: Buffer[];
  /** Directions this link drops. */
  drop: { up: boolean; down: boolean };
  /** Chunks held back by latency, per direction, oldest first: one FIFO keeps order under jitter. */
  held: { up: Held[]; down: Held[] };
  timers: { up: ReturnType<typeof setTimeout> | undefined; down: ReturnType<typeof setTimeout> | undefined };
}

interface Held {
  at: number;
  chunk: Buffer;
}

export interface ProxyTarget {
  host?: string;
  port: number;
}

export class FaultProxy {
  /** Faults injected so far (blackholes, partitions, latency changes, cuts, resets). */
  faults = 0;
  /** Connections accepted so far. */
  accepted = 0;
  private readonly links = new Set<Link>();
  private drop = { up: false, down: false };
  private holdNew = false;
  private delay = { ms: 0, jitter: 0 };
  private cutArmed: { resolve: () => void } | undefined;
  private random: () => number;

  private constructor(
    private readonly server: Server,
    private readonly target: Required<ProxyTarget>,
    seed: number,
  ) {
    let s = seed | 0;
    // mulberry32: jitter is reproducible from the seed.
    this.random = () => {
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    server.on('connection', (client) => this.accept(client));
  }

  /** Starts a proxy on 127.0.0.1 and a free port, forwarding to `target`. */
  static async start(target: ProxyTarget, seed = 1): Promise<FaultProxy> {
    const server = createServer({ noDelay: true });
    const proxy = new FaultProxy(server, { host: target.host ?? '127.0.0.1', port: target.port }, seed);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new Error('proxy not listening');
    return a.port;
  }

  /** Open links (client side still connected). */
  get open(): number {
    return this.links.size;
  }

  /** Back to clean forwarding: no drop, no latency, new connections reach the target. */
  heal(): void {
    this.drop = { up: false, down: false };
    for (const link of this.links) link.drop = { up: false, down: false };
    this.delay = { ms: 0, jitter: 0 };
    const held = this.holdNew;
    this.holdNew = false;
    if (held) for (const link of this.links) if (!link.server) this.dial(link);
  }

  latency(ms: number, jitter = 0): void {
    this.faults++;
    this.delay = { ms, jitter };
  }

  /**
   * Silently drops bytes in `dir`, without closing anything: on the links open now, and on new
   * ones too unless `scope` is `'open'` (a half-open link, while reconnecting works).
   */
  blackhole(dir: Direction = 'both', scope: 'open' | 'all' = 'all'): void {
    this.faults++;
    const drop = { up: dir !== 'down', down: dir !== 'up' };
    for (const link of this.links) link.drop = { ...drop };
    if (scope === 'all') this.drop = { ...drop };
  }

  /** A full partition: both directions dropped, and new connections are accepted but never forwarded. */
  partition(): void {
    this.blackhole('both');
    this.holdNew = true;
  }

  /** Resolves once the next chunk towards the client was cut one byte short and the link destroyed. */
  cutMidFrame(): Promise<void> {
    this.faults++;
    return new Promise((resolve) => {
      this.cutArmed = { resolve };
    });
  }

  /** Ends every open link with a TCP RST on both sides. */
  reset(): void {
    this.faults++;
    for (const link of [...this.links]) {
      link.client.resetAndDestroy();
      link.server?.resetAndDestroy();
      this.links.delete(link);
    }
  }

  async close(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.server?.destroy();
    }
    this.links.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.accepted++;
    client.setNoDelay(true);
    const link: Link = {
      client,
      server: undefined,
      pending: [],
      drop: { ...this.drop },
      held: { up: [], down: [] },
      timers: { up: undefined, down: undefined },
    };
    this.links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (link.server?.readyState === 'open') this.forward(link, 'up', chunk);
      else if (!link.drop.up) link.pending.push(chunk);
    });
    client.on('error', () => {});
    client.on('close', () => {
      this.links.delete(link);
      clearTimeout(link.timers.up);
      clearTimeout(link.timers.down);
      // Across a blackholed link the other side hears nothing, not even the close.
      if (!link.drop.up) link.server?.destroy();
    });
    if (!this.holdNew) this.dial(link);
  }

  private dial(link: Link): void {
    const server = new Socket();
    link.server = server;
    server.setNoDelay(true);
    server.on('error', () => {});
    server.on('close', () => {
      if (!link.drop.down && this.links.delete(link)) link.client.destroy();
    });
    server.on('data', (chunk: Buffer) => this.forward(link, 'down', chunk));
    server.connect(this.target.port, this.target.host, () => {
      for (const chunk of link.pending.splice(0)) this.forward(link, 'up', chunk);
    });
  }

  private forward(link: Link, dir: 'up' | 'down', chunk: Buffer): void {
    if (link.drop[dir]) return;
    const to = dir === 'up' ? link.server : link.client;
    if (!to) return;
    if (dir === 'down' && this.cutArmed && chunk.length >= 2) {
      const { resolve } = this.cutArmed;
      this.cutArmed = undefined;
      to.write(chunk.subarray(0, chunk.length - 1), () => {
        link.client.destroy();
        link.server?.destroy();
        this.links.delete(link);
        resolve();
      });
      return;
    }
    const { ms, jitter } = this.delay;
    const queue = link.held[dir];
    if (ms === 0 && jitter === 0 && queue.length === 0) {
      to.write(chunk);
      return;
    }
    const wanted = Date.now() + Math.max(0, ms + (this.random() * 2 - 1) * jitter);
    const last = queue[queue.length - 1];
    queue.push({ at: Math.max(wanted, last?.at ?? 0), chunk });
    if (queue.length === 1) this.pump(link, dir, to);
  }

  /** Writes the held chunks that are due, in order, and sleeps until the next one. */
  private pump(link: Link, dir: 'up' | 'down', to: Socket): void {
    const queue = link.held[dir];
    while (queue.length > 0 && (queue[0] as Held).at <= Date.now()) {
      const { chunk } = queue.shift() as Held;
      if (!link.drop[dir] && !to.destroyed) to.write(chunk);
    }
    const head = queue[0];
    if (head) link.timers[dir] = setTimeout(() => this.pump(link, dir, to), Math.max(1, head.at - Date.now()));
  }
}
