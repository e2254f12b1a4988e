/**
 * `useChannel`: a reactive, bounded list of a channel's publications and `publish`, on a
 * subscription shared (reference-counted) by every component that uses the same channel.
 * @module
 */
import type { ClientPublishOptions, GapContext, PublishResult, SubscribeOptions } from '@tether/client';
import { type MaybeRefOrGetter, type ShallowRef, shallowRef, watch } from 'vue';
import { acquireChannel, type ChannelStatus } from './context.js';
import { followChannel } from './follow-channel.js';
import { useTetherContext } from './plugin.js';

/** A publication as the client delivers it (`@tether/protocol`'s `MessageFrame`). */
type MessageFrame<D> = Parameters<NonNullable<SubscribeOptions<D>['onMessage']>>[1];

export interface UseChannelOptions<D = unknown> {
  /** How many of the latest publications `messages` keeps. @default 200 */
  keep?: number;
  /**
   * Called for each publication, exactly once and in order (also for ones `keep` drops), with its
   * frame (`offset`, `epoch`, `ts`, `from`). @default undefined
   */
  onMessage?: (data: D, message: MessageFrame<D>) => void;
  /** Called when publications were missed and cannot be replayed: reload from your source of truth. @default undefined */
  onGap?: (gap: GapContext) => void;
  /**
   * On subscribing, load the channel's last `history` publications into `messages` (and through
   * `onMessage`), then continue live: no gap, no duplicate. When the namespace keeps fewer, `gap`
   * is set. A component joining a channel another one already holds gets only what follows. @default 0
   */
  history?: number;
}

export interface UseChannelReturn<D = unknown> {
  /** The latest publications (data only), oldest first, at most `keep`. Replaced, never mutated, on change. */
  messages: Readonly<ShallowRef<readonly D[]>>;
  /** `subscribing` | `subscribed` | `unsubscribed` (no channel) | `error` (refused: see `error`). */
  status: Readonly<ShallowRef<ChannelStatus>>;
  /** Why the subscription was refused. */
  error: Readonly<ShallowRef<unknown>>;
  /** The last gap (missed publications history could not cover), until the next one. */
  gap: Readonly<ShallowRef<GapContext | undefined>>;
  /**
   * Publishes to the current channel; made while offline it waits for the connection and goes out
   * once. `options.key`: a key you made when the user wrote the message, reused for your own
   * retries (after a `TimeoutError`, after a reload), so it is published once; by default a random
   * key per call, which covers the client's own resend after a reconnect.
   */
  publish: (data: D, options?: ClientPublishOptions) => Promise<PublishResult>;
  /** Empties `messages`. */
  clear: () => void;
}

/**
 * Subscribes to a channel for as long as the calling component (or effect scope) lives. Components
 * on the same channel share one client subscription; the last one to unmount unsubscribes. A ref or
 * getter name re-subscribes when it changes; an empty name means "no channel".
 * @example
 * const { messages, publish, status } = useChannel(() => `room:${roomId.value}`, { keep: 100, history: 50 })
 */
export function useChannel<D = unknown>(
  name: MaybeRefOrGetter<string | null | undefined>,
  options: UseChannelOptions<D> = {},
): UseChannelReturn<D> {
  const keep = options.keep ?? 200;
  if (!Number.isInteger(keep) || keep < 0)
    throw new RangeError(`useChannel: keep must be an integer >= 0, got ${keep}`);
  const history = options.history ?? 0;
  if (!Number.isInteger(history) || history < 0)
    throw new RangeError(`useChannel: history must be an integer >= 0, got ${history}`);
  const ctx = useTetherContext('useChannel()');
  const messages = shallowRef<readonly D[]>([]);
  const status = shallowRef<ChannelStatus>('unsubscribed');
  const error = shallowRef<unknown>(undefined);
  const gap = shallowRef<GapContext | undefined>(undefined);

  const open = (next: string): (() => void) => {
    const acquired = acquireChannel(
      ctx,
      next,
      {
        onMessage(data, m) {
          options.onMessage?.(data as D, m as MessageFrame<D>);
          if (keep === 0) return;
          const list = messages.value;
          // A new array each time: shallowRef consumers see the change, and the bound holds.
          messages.value =
            list.length >= keep ? [...list.slice(list.length - keep + 1), data as D] : [...list, data as D];
        },
        onGap(g) {
          gap.value = g;
          options.onGap?.(g);
        },
      },
      history,
    );
    // Mirror the shared entry's status and error into this consumer's refs.
    const stopMirror = watch(
      [acquired.entry.status, acquired.entry.error],
      ([s, e]) => {
        status.value = s;
        error.value = e;
      },
      { immediate: true, flush: 'sync' },
    );
    return () => {
      stopMirror();
      acquired.release();
    };
  };

  const current = followChannel(ctx, name, open, () => {
    status.value = 'unsubscribed';
    messages.value = [];
    gap.value = undefined;
  });

  return {
    messages,
    status,
    error,
    gap,
    publish(data, options) {
      const channel = current();
      if (!channel) return Promise.reject(new TypeError('useChannel: publish() needs a channel name'));
      return ctx.client.publish(channel, data, options);
    },
    clear() {
      messages.value = [];
    },
  };
}
