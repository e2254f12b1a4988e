/**
 * Durations in options: a number of milliseconds or a short string (`'500ms'`, `'30s'`, `'10m'`, `'1h'`, `'2d'`).
 * @module
 */

/** A duration: milliseconds, or a string such as `'30s'`, `'10m'`, `'1h'`. */
export type Duration = number | string;

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Converts a {@link Duration} to milliseconds; throws `RangeError` naming `what` when it is not one. */
export function toMs(value: Duration, what: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw new RangeError(`${what} must be a non-negative number of milliseconds, got ${value}`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) throw new RangeError(`${what} must look like 500, '30s', '10m' or '1h', got ${JSON.stringify(value)}`);
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? 'ms'] as number));
}
