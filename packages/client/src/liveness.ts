/**
 * Liveness: is the server still there? A silence deadline from the `welcome` heartbeat (or, in
 * plain mode, an optional client heartbeat), a watchdog checked against the wall clock, and the
 * `stale` probe run on browser hints. It never closes anything itself: it reports `dead` to the
 * client's exit funnel.
 * @module
 */
import type { WelcomeFrame } from '@tether/protocol';
import { HEARTBEAT_TIMEOUT } from './close-codes.js';
import { CLIENT_DEFAULTS, type ResolvedOptions } from './options.js';

/** @internal */
export type Liveness = ReturnType<typeof createLiveness>;

/**
 * @internal
 * @param open The connection is open.
 * @param plain It is a plain (non-Tether) one.
 * @param beat Sends a plain-mode heartbeat frame (`heartbeat.send()`).
 * @param ping Sends a Tether `ping` that must be answered within `timeout` ms.
 * @param dead The connection is dead: the client closes it without waiting for the peer.
 */
export function createLiveness(
  hb: ResolvedOptions['heartbeat'],
  open: () => boolean,
  plain: () => boolean,
  beat: () => void,
  ping: (timeout: number) => void,
  dead: (code: number, reason: string) => void,
) {
  let lastSeen = 0;
  /** Silence (ms) after which the connection is dead; 0: no deadline. */
  let limit = 0;
  let probeTimeout = 0;
  let stale = false;
  let watchTimer: ReturnType<typeof setTimeout> | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;

  /** The watchdog: wakes at the deadline (plain heartbeat: every interval) and checks the wall clock. */
  function watch(): void {
    clearTimeout(watchTimer);
    if (!open() || !limit) return;
    const wait = plain() ? hb.interval : lastSeen + limit - Date.now();
    watchTimer = setTimeout(
      () => {
        if (!check()) return;
        if (plain()) beat();
        watch();
      },
      Math.max(wait, 1),
    );
  }

  /** True unless the deadline passed, in which case the connection is reported dead. */
  function check(): boolean {
    if (!open() || !limit || Date.now() - lastSeen < limit) return true;
    dead(HEARTBEAT_TIMEOUT, 'heartbeat timeout');
    return false;
  }

  return {
    check,
    get stale() {
      return stale;
    },

    /** Anything arrived: the server is alive, and a pending probe is answered. */
    seen(): void {
      lastSeen = Date.now();
      if (stale) {
        stale = false;
        clearTimeout(probeTimer);
      }
    },

    /** The connection opened (`welcome` absent in plain mode): set the deadline. */
    start(welcome: WelcomeFrame | undefined): void {
      lastSeen = Date.now();
      probeTimeout = hb.timeout ?? welcome?.heartbeat.timeout ?? CLIENT_DEFAULTS.heartbeat.timeout;
      // Plain mode without a client heartbeat has nothing to expect: no deadline.
      limit = welcome ? welcome.heartbeat.interval + probeTimeout : hb.send ? hb.interval + probeTimeout : 0;
    },

    watch,

    /** A hint that the connection may be dead (tab visible again, `online`): verify instead of trusting. */
    probe(): void {
      if (stale || (plain() && !hb.send)) return;
      stale = true;
      if (plain()) beat();
      else ping(probeTimeout);
      probeTimer = setTimeout(() => dead(HEARTBEAT_TIMEOUT, 'no answer to liveness probe'), probeTimeout);
    },

    stop(): void {
      clearTimeout(watchTimer);
      clearTimeout(probeTimer);
      stale = false;
    },
  };
}
