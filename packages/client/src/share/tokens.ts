/**
 * Tokens for a hub in a SharedWorker: the token getter is a function and lives in the tabs, so the
 * hub's client asks a tab for each token and waits (boundedly) for its answer.
 * @module
 */

type Token = string | null | undefined;

const TIMEOUT = 10_000;

/** @internal */
export function createTokenAsk(ask: (id: number) => boolean) {
  const waiting = new Map<number, { ok: (v: Token) => void; no: (e: Error) => void }>();
  let seq = 0;
  return {
    /** The client's token getter: asks a tab (`ask` returns false when there is none). */
    get(): Promise<Token> {
      const id = ++seq;
      if (!ask(id)) return Promise.reject(new Error('no tab to ask for a token'));
      return new Promise((ok, no) => {
        const timer = setTimeout(() => no(new Error('no token from the tab')), TIMEOUT);
        const done =
          <A>(f: (a: A) => void) =>
          (a: A) => {
            clearTimeout(timer);
            waiting.delete(id);
            f(a);
          };
        waiting.set(id, { ok: done(ok), no: done(no) });
      });
    },
    /** A tab's answer. */
    answer(id: number, v: Token, err: string | undefined): void {
      const w = waiting.get(id);
      if (err !== undefined) w?.no(new Error(err));
      else w?.ok(v);
    },
    close(): void {
      for (const w of waiting.values()) w.no(new Error('hub closed'));
    },
  };
}
