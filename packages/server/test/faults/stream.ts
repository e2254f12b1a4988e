/**
 * What the fault tests count: an SDK client following one channel through a proxy, every
 * publication numbered `{k}` so a loss, a duplicate or a reordering shows, and a summary line a
 * suite prints for docs/RELIABILITY.md.
 */
import { createClient, type GapContext, type TetherClient } from '@tether/client';
import { signToken } from '@tether/server';
import WebSocket from 'ws';

export const SECRET = 'fault-test-secret-0123456789abcdef';

export interface Follower {
  client: TetherClient;
  /** `k` of every publication delivered by `onMessage`, in delivery order. */
  ks: number[];
  gaps: GapContext[];
  /** Close codes the client saw, in order. */
  closes: number[];
  /** Times the client opened (1 for the first connection). */
  opens: number;
}

/** An SDK client with test-sized timings (fast reconnects, short connect timeout). */
export async function sdkClient(url: string, user: string, connectTimeout = 400): Promise<TetherClient> {
  const token = await signToken(SECRET, { user });
  return createClient({
    url,
    token,
    WebSocket: WebSocket as unknown as NonNullable<Parameters<typeof createClient>[0]['WebSocket']>,
    reconnect: { initialDelay: 20, maxDelay: 150, jitter: 0.2 },
    connectTimeout,
    requestTimeout: 5_000,
    welcomeTimeout: connectTimeout,
  });
}

/** Connects an SDK client and subscribes it to `channel`, recording everything it is told. */
export async function follow(url: string, user: string, channel: string, connectTimeout?: number): Promise<Follower> {
  const client = await sdkClient(url, user, connectTimeout);
  const f: Follower = { client, ks: [], gaps: [], closes: [], opens: 0 };
  client.on('open', () => {
    f.opens++;
  });
  client.on('close', ({ code }) => f.closes.push(code));
  await client.connect();
  const sub = client.subscribe<{ k: number }>(channel, {
    onMessage: (data) => f.ks.push(data.k),
    onGap: (gap) => f.gaps.push(gap),
  });
  await sub.ready;
  return f;
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Lost and duplicated `k`s of `ks` against the expected `1..n`. */
export function tally(ks: number[], n: number): { lost: number; duplicated: number; outOfOrder: number } {
  const seen = new Map<number, number>();
  for (const k of ks) seen.set(k, (seen.get(k) ?? 0) + 1);
  let lost = 0;
  let duplicated = 0;
  for (let k = 1; k <= n; k++) {
    const c = seen.get(k) ?? 0;
    if (c === 0) lost++;
    if (c > 1) duplicated += c - 1;
  }
  let outOfOrder = 0;
  for (let i = 1; i < ks.length; i++) if ((ks[i] as number) <= (ks[i - 1] as number)) outOfOrder++;
  return { lost, duplicated, outOfOrder };
}

/** Totals of one suite, printed once at its end: the source of the figures in docs/RELIABILITY.md. */
export const figures = { faults: 0, publications: 0, lost: 0, duplicated: 0 };

export function record(faults: number, ks: number[], n: number): void {
  const t = tally(ks, n);
  figures.faults += faults;
  figures.publications += n;
  figures.lost += t.lost;
  figures.duplicated += t.duplicated;
}
