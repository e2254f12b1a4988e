/**
 * Durations in options: a number of milliseconds or a short string (`'500ms'`, `'30s'`, `'10m'`, `'1h'`, `'2d'`).
 * @module
 */

/** A duration: milliseconds, or a string such as `'30s'`, `'10m'`, `'1h'`. */
export type Duration = number | string;

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A {@link Duration} in milliseconds, or `NaN` when it is not one: the small form for browser
 * bundles (the client). {@link toMs} is the same with an error that names the option.
 */
export function durationMs(value: Duration): number {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : NaN;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  return match ? Math.round(Number(match[1]) * (UNITS[match[2] ?? 'ms'] as number)) : NaN;
}

/** Converts a {@link Duration} to milliseconds; throws `RangeError` naming `what` when it is not one. */
export function toMs(value: Duration, what: string): number {
  const ms = durationMs(value);
  if (!Number.isNaN(ms)) return ms;
  throw new RangeError(
    typeof value === 'number'
      ? `${what} must be a non-negative number of milliseconds, got ${value}`
      : `${what} must look like 500, '30s', '10m' or '1h', got ${JSON.stringify(value)}`,
  );
}
