/** Counts live timers created from here on, by wrapping the global timer functions. */
export function trackTimers(): { live: () => number; restore: () => void } {
  const live = new Set<unknown>();
  const { setTimeout: st, clearTimeout: ct, setInterval: si, clearInterval: ci } = globalThis;
  const g = globalThis as unknown as Record<string, unknown>;
  g.setTimeout = (fn: () => void, ms?: number, ...args: unknown[]) => {
    const t = st(
      (...a: unknown[]) => {
        live.delete(t);
        (fn as (...x: unknown[]) => void)(...a);
      },
      ms,
      ...args,
    );
    live.add(t);
    return t;
  };
  g.clearTimeout = (t: ReturnType<typeof setTimeout>) => {
    live.delete(t);
    ct(t);
  };
  g.setInterval = (fn: () => void, ms?: number) => {
    const t = si(fn, ms);
    live.add(t);
    return t;
  };
  g.clearInterval = (t: ReturnType<typeof setInterval>) => {
    live.delete(t);
    ci(t);
  };
  const restore = () =>
    Object.assign(globalThis, { setTimeout: st, clearTimeout: ct, setInterval: si, clearInterval: ci });
  return { live: () => live.size, restore };
}
