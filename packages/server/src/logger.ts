/**
 * Logging: `pino` JSON lines, with tokens kept out of them.
 * @module
 */
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Creates the default logger: level from the option, else `TETHER_LOG_LEVEL`, else `info`. */
export function createLogger(level?: string): Logger {
  return pino({
    name: 'tether',
    level: level ?? process.env.TETHER_LOG_LEVEL ?? 'info',
    // Belt and braces: nothing here logs headers, but a caller's child logger might.
    redact: { paths: ['headers.authorization', 'headers.cookie', 'token', '*.token'], censor: '[redacted]' },
  });
}

/** A request URL safe to log: the path only, since browsers carry `?token=` in the query. */
export function redactUrl(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?[redacted]`;
}

/** Runs `fn` so that nothing it throws can take the process down: it is logged as `<what> handler failed`. */
export function guarded(logger: Logger, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    logger.error({ err }, `${what} handler failed`);
  }
}
