/**
 * A promise with its settle function outside, that nobody has to await.
 * @module
 */

/** @internal The one no-op function of the bundle. */
export const noop = (): void => {};

/** @internal `settle()` resolves, `settle(err)` rejects; an unobserved rejection never crashes Node. */
export function deferred(): { promise: Promise<void>; settle(err?: unknown): void } {
  let settle: (err?: unknown) => void = noop;
  const promise = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  promise.catch(noop);
  return { promise, settle };
}
