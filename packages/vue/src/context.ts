/**
 * The per-client shared state behind every composable: one reactive connection state and one
 * reference-counted registry of channel subscriptions, so components never build sockets and
 * never subscribe twice.
 * @module
 */
import type {
  ClientState,
  GapContext,
  PresenceClient,
  PresenceEvent,
  SubscribeOptions,
  Subscription,
  SubscriptionState,
  TetherClient,
} from '@tether/client';
import { type InjectionKey, type ShallowRef, shallowRef } from 'vue';

/** A publication, and a batched presence change, as the client delivers them. */
type MessageFrame = Parameters<NonNullable<SubscribeOptions['onMessage']>>[1];
type PresenceDiffFrame = Parameters<NonNullable<SubscribeOptions['onPresence']>>[0];

/** What a channel consumer (a `useChannel`, a `usePresence`, the chat store) wants to hear. */
export interface ChannelConsumer {
  /** Each publication: its data, and the whole frame (`offset`, `epoch`, `ts`, `from`). */
  onMessage?: (data: unknown, message: MessageFrame) => void;
  onGap?: (gap: GapContext) => void;
  onJoin?: (event: PresenceEvent) => void;
  onLeave?: (event: PresenceEvent) => void;
  /** Every `presence_diff`, after its joins and leaves (count-only on large channels). */
  onPresence?: (diff: PresenceDiffFrame) => void;
  /** After every successful (re)subscribe, e.g. to reload presence. */
  onSubscribed?: (recovered: boolean) => void;
}

/** Status of a channel as seen by composables: the subscription's state, or `error` when refused. */
export type ChannelStatus = SubscriptionState | 'error';

/** @internal One client subscription shared by every consumer of the channel. */
export interface ChannelEntry {
  readonly name: string;
  readonly sub: Subscription;
  readonly consumers: Set<ChannelConsumer>;
  readonly status: ShallowRef<ChannelStatus>;
  /** Last error (a refused subscribe). */
  readonly error: ShallowRef<unknown>;
  dispose(): void;
}

/** The shared state of one client, created once per client. */
export interface TetherContext {
  readonly client: TetherClient;
  /** The client's state, shared by every component. */
  readonly state: ShallowRef<ClientState>;
  /** @internal Live channel entries by name. */
  readonly channels: Map<string, ChannelEntry>;
  /** True during SSR: there is no client, composables do nothing. */
  readonly ssr?: boolean;
  /** Removes the context's own client listeners (the client itself is left alone). */
  dispose(): void;
}

/** Injection key of the app's Tether context (provided by `createTether`). */
export const TETHER_KEY: InjectionKey<TetherContext> = Symbol('tether');

const contexts = new WeakMap<TetherClient, TetherContext>();

/** True in a browser-like runtime; false during SSR. Read lazily so importing never touches `window`. */
export const inBrowser = (): boolean => typeof window !== 'undefined' && typeof document !== 'undefined';

/** @internal The one context of a client (created on first use). */
export function contextOf(client: TetherClient): TetherContext {
  const existing = contexts.get(client);
  if (existing) return existing;
  const state = shallowRef<ClientState>(client.state);
  const channels = new Map<string, ChannelEntry>();
  const offState = client.on('state', (next) => {
    state.value = next;
  });
  const ctx: TetherContext = {
    client,
    state,
    channels,
    dispose() {
      offState();
      for (const entry of [...channels.values()]) entry.dispose();
      contexts.delete(client);
    },
  };
  contexts.set(client, ctx);
  return ctx;
}

/**
 * @internal Adds a consumer to a channel, subscribing on the first one (with `history`, when given:
 * later consumers of a shared subscription get what follows, not the history again). Returns the
 * release function: the last release unsubscribes and removes every listener the entry added.
 */
export function acquireChannel(
  ctx: TetherContext,
  name: string,
  consumer: ChannelConsumer,
  history?: number,
): {
  entry: ChannelEntry;
  release: () => void;
} {
  let entry = ctx.channels.get(name);
  if (!entry || entry.sub.state === 'unsubscribed') entry = openEntry(ctx, name, history);
  const e = entry;
  e.consumers.add(consumer);
  let released = false;
  return {
    entry: e,
    release() {
      if (released) return;
      released = true;
      e.consumers.delete(consumer);
      if (e.consumers.size === 0) e.dispose();
    },
  };
}

function openEntry(ctx: TetherContext, name: string, history?: number): ChannelEntry {
  const consumers = new Set<ChannelConsumer>();
  // Each callback iterates a copy: a consumer may release itself from inside its handler.
  const each = (fn: (c: ChannelConsumer) => void): void => {
    for (const c of [...consumers]) fn(c);
  };
  const sub = ctx.client.subscribe(name, {
    onMessage: (data, m) => each((c) => c.onMessage?.(data, m)),
    onGap: (gap) => each((c) => c.onGap?.(gap)),
    onJoin: (ev) => each((c) => c.onJoin?.(ev)),
    onLeave: (ev) => each((c) => c.onLeave?.(ev)),
    onPresence: (diff) => each((c) => c.onPresence?.(diff)),
    ...(history && { history }),
  });
  const status = shallowRef<ChannelStatus>(sub.state);
  const error = shallowRef<unknown>(undefined);
  const offs = [
    sub.on('subscribed', ({ recovered }) => {
      status.value = 'subscribed';
      error.value = undefined;
      each((c) => c.onSubscribed?.(recovered));
    }),
    // The subscription's own state changes (back to `subscribing` on a drop, `unsubscribed`);
    // a refusal stays `error` until the next successful subscribe.
    sub.on('state', (next) => {
      if (status.value !== 'error') status.value = next;
    }),
    sub.on('error', (err) => {
      error.value = err;
      status.value = 'error';
    }),
  ];
  let disposed = false;
  const entry: ChannelEntry = {
    name,
    sub,
    consumers,
    status,
    error,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const off of offs) off();
      consumers.clear();
      sub.unsubscribe();
      if (ctx.channels.get(name) === entry) ctx.channels.delete(name);
    },
  };
  ctx.channels.set(name, entry);
  return entry;
}

/** Merges a presence change into a list keyed by `connectionId`. */
export function applyPresence(list: readonly PresenceClient[], event: PresenceEvent, join: boolean): PresenceClient[] {
  const rest = list.filter((c) => c.connectionId !== event.connectionId);
  if (!join) return rest;
  // Join frames arrive as they are on the wire; keep only the client's identity.
  const client: PresenceClient = { user: event.user, connectionId: event.connectionId };
  if (event.info !== undefined) client.info = event.info;
  return [...rest, client];
}
