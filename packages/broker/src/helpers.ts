/**
 * Helpers every broker needs: a fresh epoch, and a queue that runs tasks one after another per key.
 * @module
 */
import { randomBytes } from 'node:crypto';

/** A new random epoch (8 base64url characters): a channel gets one whenever its offsets start over. */
export const newEpoch = (): string => randomBytes(6).toString('base64url');

/** Runs `task` after every task queued before under the same `key` has settled; resolves as `task` does. */
export type SerialRunner = <T>(key: string, task: () => Promise<T>) => Promise<T>;

/**
 * Creates a per-key serial queue: tasks under one key run in call order, one at a time, whatever
 * the earlier ones resolved or rejected with; tasks under different keys run independently. A
 * key's entry is dropped once its queue is empty, so memory stays bounded by the keys in flight.
 * @example
 * ```ts
 * const run = serialPerKey();
 * run(channel, () => redis.subscribe(channel)); // then, strictly after it:
 * run(channel, () => redis.unsubscribe(channel));
 * ```
 */
export function serialPerKey(): SerialRunner {
  const tails = new Map<string, Promise<void>>();
  return <T>(key: string, task: () => Promise<T>): Promise<T> => {
    const go = (): Promise<T> => task();
    const next = (tails.get(key) ?? Promise.resolve()).then(go, go);
    const settled = next.then(
      () => {},
      () => {},
    );
    tails.set(key, settled);
    void settled.then(() => {
      if (tails.get(key) === settled) tails.delete(key);
    });
    return next;
  };
}
