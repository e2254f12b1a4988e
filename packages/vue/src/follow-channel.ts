/**
 * The skeleton every channel composable shares: a reactive channel name, followed for as long as
 * the calling component (or effect scope) lives — acquire on a name, release on a change and on
 * dispose.
 * @module
 */
import { getCurrentScope, type MaybeRefOrGetter, onScopeDispose, toValue, watch } from 'vue';
import type { TetherContext } from './context.js';

/**
 * @internal Follows `name`: on every change the previous channel is released and `left()` runs,
 * then a non-empty name is opened with `open(name)`, which returns its release function. An empty
 * name means "no channel". On scope dispose the channel is released and `left()` runs. Nothing
 * runs during SSR. Returns the name currently open.
 */
export function followChannel(
  ctx: TetherContext,
  name: MaybeRefOrGetter<string | null | undefined>,
  open: (name: string) => () => void,
  left: () => void,
): () => string | undefined {
  let current: string | undefined;
  let release: (() => void) | undefined;
  const leave = (): void => {
    release?.();
    release = current = undefined;
    left();
  };
  if (!ctx.ssr) {
    watch(
      () => toValue(name) || undefined,
      (next) => {
        if (next === current) return;
        leave();
        if (!next) return;
        release = open(next);
        current = next;
      },
      { immediate: true },
    );
    if (getCurrentScope()) onScopeDispose(leave);
  }
  return () => current;
}
