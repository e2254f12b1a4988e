/**
 * What the tabs and the hub (the SharedWorker, or the leader tab) say to each other. Every
 * message is a plain object, so it crosses a `MessagePort` or a `BroadcastChannel` as it is.
 * @module
 */
import type { MessageFrame, PresenceDiffFrame, StreamPosition } from '@tether/protocol';
import { DisconnectedError, ServerError, TetherError, TimeoutError } from '../errors.js';
import type { ClientState } from '../state.js';
import type { ClientStats, OpenContext } from '../types.js';

/** @internal A request a tab asks the hub to make on the one connection. */
export type HubRequest =
  | { k: 'rpc'; method: string; params?: unknown; timeout?: number | string }
  | { k: 'publish'; channel: string; data: unknown; key: string; timeout?: number | string }
  | { k: 'presence'; channel: string }
  | { k: 'ping' }
  | { k: 'send'; data: unknown };

/** @internal A subscription as a tab announces it: its position, and the `history` it asked for. */
export interface Sub {
  c: string;
  since?: StreamPosition | undefined;
  h?: number | undefined;
}

/** @internal Tab → hub. */
export type TabMessage =
  | { t: 'hi'; connect: boolean; subs: Sub[]; want: boolean }
  | { t: 'connect' }
  | { t: 'bye' }
  | { t: 'want' }
  | ({ t: 'sub' } & Sub)
  | { t: 'reconnect' }
  | { t: 'unsub'; c: string }
  | { t: 'req'; id: number; r: HubRequest }
  | { t: 'tok'; id: number; v?: string | null | undefined; err?: string };

/** @internal A subscribe result as the tab's `Subscription.applyReply` takes it. */
export interface SubReply {
  recovered: boolean;
  offset: number;
  epoch: string;
  publications: MessageFrame[];
}

/** @internal An error, flattened so it survives structured cloning; {@link thaw} rebuilds the class. */
export interface Frozen {
  n: string;
  c: string;
  m: string;
  close?: number;
  reason?: string;
}

/** @internal Hub → tab. */
export type HubMessage =
  | { t: 'state'; s: ClientState; stats: ClientStats; plain: boolean; stale: boolean; o?: OpenContext }
  | { t: 'ev'; e: 'close' | 'reconnecting' | 'message'; a: unknown }
  | { t: 'err'; e: Frozen }
  | { t: 'sub'; c: string; ok: true; v: SubReply }
  | { t: 'sub'; c: string; ok: false; e: Frozen }
  | { t: 'm'; c: string; f: MessageFrame }
  | { t: 'p'; c: string; f: PresenceDiffFrame }
  | { t: 'end'; c: string; reason: string }
  | { t: 'res'; id: number; ok: boolean; v: unknown }
  | { t: 'tok'; id: number };

/** @internal */
export function freeze(err: unknown): Frozen {
  const e = err as Partial<DisconnectedError> & { name?: string; message?: string };
  return {
    n: e?.name ?? 'Error',
    c: typeof e?.code === 'string' ? e.code : 'ERR_TETHER_SHARE',
    m: e?.message ?? String(err),
    ...(typeof e?.closeCode === 'number' && { close: e.closeCode, reason: e.reason ?? '' }),
  };
}

/** @internal */
export function thaw(f: Frozen): Error {
  if (f.n === 'DisconnectedError') return new DisconnectedError(f.close ?? 1006, f.reason ?? '');
  if (f.n === 'ServerError') return new ServerError(f.c as ServerError['code'], f.m);
  if (f.n === 'TimeoutError') return new TimeoutError(f.m);
  const err = new TetherError(f.c, f.m);
  err.name = f.n;
  return err;
}
