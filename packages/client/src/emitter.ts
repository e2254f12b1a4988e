/**
 * A tiny typed event emitter (no Node `events`, so it runs everywhere and stays small).
 * @module
 */

/** Event map: event name → tuple of listener arguments. */
export type EventMap = Record<string, unknown[]>;

export type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<E extends EventMap> {
  #listeners: { [K in keyof E]?: Set<Listener<E[K]>> } = {};

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const set = this.#listeners[event] ?? new Set();
    this.#listeners[event] = set;
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs once. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.#listeners[event]?.delete(listener);
  }

  /** Number of listeners for one event, or for all events. */
  listenerCount(event?: keyof E): number {
    if (event !== undefined) return this.#listeners[event]?.size ?? 0;
    let n = 0;
    for (const key in this.#listeners) n += this.listenerCount(key);
    return n;
  }

  /** @internal */
  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.#listeners[event];
    if (!set) return;
    // A copy, so listeners may remove themselves; a throwing listener must not break the
    // client's own bookkeeping, so its error becomes an `error` event instead.
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (err) {
        if (event !== 'error') (this.emit as unknown as (e: string, x: unknown) => void)('error', err);
      }
    }
  }
}
