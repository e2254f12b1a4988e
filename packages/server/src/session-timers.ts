/**
 * The timers of every connection of a node, shared: one sweep for heartbeats and silence
 * deadlines, and one timer per distinct token expiry instant (JWT `exp` is in whole seconds, so
 * connections whose tokens expire in the same second share one, and it keeps a count, not a set).
 * Both walk the node's one set of open connections (`Connections.sessions`): an idle connection
 * holds no timer and no set entry of its own here.
 * @module
 */

/** What the timers need of a connection. */
export interface Timed {
  /** One sweep: ping when due, close when silent past the deadline. */
  sweep(now: number): void;
  /** Its token's expiry instant passed. */
  expired(now: number): void;
  readonly expiresAt: number | undefined;
}

// Longest delay setTimeout accepts (about 24.8 days); later expiries are re-checked.
const MAX_TIMEOUT = 2 ** 31 - 1;

/** How often the sweep runs for a heartbeat: a quarter of the shorter period, 10 ms to 1 s. */
export function sweepStep(interval: number, timeout: number): number {
  const shorter = Math.min(interval, timeout > 0 ? timeout : interval);
  return Math.min(1_000, Math.max(10, Math.floor(shorter / 4)));
}

export class SessionTimers<S extends Timed> {
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /**
   * Expiry instant → the timer that fires then and how many connections expire then. A count,
   * not a set: when it fires, the open connections are checked, so none is held here.
   */
  private readonly expiries = new Map<number, { timer: ReturnType<typeof setTimeout>; count: number }>();

  /** `members`: the node's open connections, owned by the caller (`Connections`), never copied here. */
  constructor(
    private readonly step: number,
    private readonly members: ReadonlySet<S>,
  ) {}

  /** A connection was added to `members`: starts the sweep if it is not running (it runs while some are). */
  started(): void {
    if (!this.sweeper) {
      // The verdict waits one turn of the loop: after a stall the peer's pong may sit unread
      // behind this timer, and `setImmediate` runs once pending I/O has been read.
      this.sweeper = setInterval(() => setImmediate(() => this.sweepAll()), this.step);
      this.sweeper.unref();
    }
  }

  /** Forgets `s`'s expiry: it is closing (a closing connection ignores the sweep). */
  delete(s: S): void {
    this.unexpire(s.expiresAt);
  }

  /** Stops the sweep once `members` is empty (call after removing one). */
  left(): void {
    if (this.members.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** (Re)files `s` under its token's expiry; `previous` is where it was filed before. */
  expireAt(s: S, previous: number | undefined): void {
    this.unexpire(previous);
    const at = s.expiresAt;
    if (at === undefined) return;
    let slot = this.expiries.get(at);
    if (!slot) {
      const timer = setTimeout(() => this.fire(at), Math.min(Math.max(0, at - Date.now()), MAX_TIMEOUT));
      timer.unref();
      slot = { timer, count: 0 };
      this.expiries.set(at, slot);
    }
    slot.count += 1;
  }

  private unexpire(at: number | undefined): void {
    if (at === undefined) return;
    const slot = this.expiries.get(at);
    if (!slot) return;
    slot.count -= 1;
    if (slot.count > 0) return;
    clearTimeout(slot.timer);
    this.expiries.delete(at);
  }

  private fire(at: number): void {
    const slot = this.expiries.get(at);
    if (!slot) return;
    const now = Date.now();
    // A delay longer than setTimeout allows: wait again for the rest.
    if (at > now) {
      slot.timer = setTimeout(() => this.fire(at), Math.min(at - now, MAX_TIMEOUT));
      slot.timer.unref();
      return;
    }
    this.expiries.delete(at);
    // The connections whose tokens expire at `at`, found first: closing one deletes it from `members`.
    const due: S[] = [];
    for (const s of this.members) if (s.expiresAt === at) due.push(s);
    for (const s of due) s.expired(now);
  }

  private sweepAll(): void {
    const now = Date.now();
    // Copy: a sweep may close a connection, which deletes it from `members`.
    for (const s of [...this.members]) s.sweep(now);
  }

  /** Stops every timer (the server is closing). */
  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const slot of this.expiries.values()) clearTimeout(slot.timer);
    this.expiries.clear();
  }
}
