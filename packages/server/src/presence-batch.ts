/**
 * Presence batching: joins and leaves of one channel are coalesced and sent as one
 * `presence_diff` frame per channel per interval, so N arrivals never cost N² frames. Above
 * `listLimit` subscribers on this node a diff carries counts only, and the channel is flushed
 * less often (`interval × ⌈subscribers / listLimit⌉`, at most `maxInterval`), which bounds the
 * presence frames of any channel to about `listLimit` per interval however large it grows.
 * @module
 */
import type { PresenceClient, PresenceDiffFrame } from '@tether/protocol';

export interface PresenceBatchSettings {
  /** Shortest time between two diffs of one channel, in ms. */
  interval: number;
  /** Above this many local subscribers a diff carries counts, not lists. */
  listLimit: number;
  /** Longest time between two diffs of a large channel, in ms. @default 5000 (or `interval`, if longer) */
  maxInterval?: number;
}

const MAX_INTERVAL = 5_000;

/** A presence entry with exactly its public fields (of a session, or as a store announced it). */
export function presenceClient(s: { user: string; connectionId: string; info?: unknown }): PresenceClient {
  const client: PresenceClient = { user: s.user, connectionId: s.connectionId };
  if (s.info !== undefined) client.info = s.info;
  return client;
}

/** One channel's changes since its last diff. Leaves apply before joins. */
class Pending {
  readonly joins = new Map<string, PresenceClient>();
  readonly leaves = new Map<string, PresenceClient>();
  /** Join and leave events seen, uncoalesced (what count-only diffs carry). */
  joined = 0;
  left = 0;
  /** Earliest time this channel may be flushed (ms); 0 = at the next round. */
  dueAt = 0;

  add(type: 'join' | 'leave', client: PresenceClient): void {
    const id = client.connectionId;
    if (type === 'join') {
      this.joined++;
      this.joins.set(id, client);
      return;
    }
    this.left++;
    // A join then a leave within one interval are not dropped together: a subscriber may have
    // loaded the list (which had the entry) meanwhile, so the leave still goes out. A leave then
    // a rejoin keeps both; leaves apply first, so the entry ends up present.
    this.joins.delete(id);
    this.leaves.set(id, client);
  }

  get empty(): boolean {
    return this.joined === 0 && this.left === 0;
  }
}

/** The frame of one channel's pending changes: with the lists, or counts only. */
function diffFrame(channel: string, p: Pending, withLists: boolean): PresenceDiffFrame {
  const frame: PresenceDiffFrame = { type: 'presence_diff', channel, joined: p.joined, left: p.left };
  if (withLists) {
    frame.joins = [...p.joins.values()];
    frame.leaves = [...p.leaves.values()];
  }
  return frame;
}

/**
 * Collects presence changes per channel and hands each channel's diff to `flush` at most once
 * per interval (a change waits at most one interval). One timer for the whole node, running only
 * while some channel has changes.
 */
export class PresenceBatcher {
  private readonly pending = new Map<string, Pending>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly settings: PresenceBatchSettings,
    /** Local live subscribers of a channel now. */
    private readonly subscribers: (channel: string) => number,
    private readonly flush: (channel: string, frame: PresenceDiffFrame) => void,
  ) {}

  add(type: 'join' | 'leave', channel: string, client: PresenceClient): void {
    let p = this.pending.get(channel);
    if (!p) {
      p = new Pending();
      this.pending.set(channel, p);
    }
    p.add(type, client);
    this.arm();
  }

  /** Sends every due diff; the rest wait for the next round. */
  run(now = Date.now()): void {
    this.timer = undefined;
    const { interval, listLimit } = this.settings;
    const maxInterval = Math.max(interval, this.settings.maxInterval ?? MAX_INTERVAL);
    for (const [channel, p] of this.pending) {
      if (p.dueAt > now) continue;
      this.pending.delete(channel);
      const n = this.subscribers(channel);
      if (p.empty || n === 0) continue;
      this.flush(channel, diffFrame(channel, p, n <= listLimit));
      // A large channel waits longer before its next diff: the cost of a diff is one frame per
      // subscriber, so it is paid at most about `listLimit` times per interval.
      if (n > listLimit) {
        const next = new Pending();
        next.dueAt = now + Math.min(maxInterval, interval * Math.ceil(n / listLimit));
        this.pending.set(channel, next);
      }
    }
    this.arm();
  }

  /** Stops the timer; changes not yet sent are dropped (the node is closing). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  /** One timer for the node, ticking every interval while any channel has changes or waits. */
  private arm(): void {
    if (this.timer || this.pending.size === 0) return;
    this.timer = setTimeout(() => this.run(), this.settings.interval);
    this.timer.unref();
  }
}
