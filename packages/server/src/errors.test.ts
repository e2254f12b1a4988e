import { BrokerUnavailableError } from '@tether/broker';
import { ERROR_CODES } from '@tether/protocol';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { HTTP_STATUS, toErrorBody } from './errors.js';
import { RpcError } from './rpc-error.js';

function recordingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

describe('HTTP_STATUS', () => {
  it('gives every protocol error code a 4xx or 5xx status', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect(HTTP_STATUS[code]).toBeGreaterThanOrEqual(400);
    expect(HTTP_STATUS.unauthorized).toBe(401);
    expect(HTTP_STATUS.unavailable).toBe(503);
    expect(HTTP_STATUS.internal).toBe(500);
  });
});

describe('toErrorBody', () => {
  it('passes RpcErrors through as they are, without logging', () => {
    const { logger, lines } = recordingLogger();
    expect(toErrorBody(new RpcError('not_found', 'no such thing'), logger, 'rpc')).toEqual({
      code: 'not_found',
      message: 'no such thing',
    });
    expect(lines).toEqual([]);
  });
  it('recognises an unreachable broker by its code, from any copy of @tether/broker', () => {
    const { logger } = recordingLogger();
    expect(toErrorBody(new BrokerUnavailableError('down'), logger, 'publish').code).toBe('unavailable');
    const foreign = Object.assign(new Error('down'), { name: 'BrokerUnavailableError', code: 'unavailable' });
    expect(toErrorBody(foreign, logger, 'publish').code).toBe('unavailable');
  });
  it('answers anything else with a generic internal error and logs the cause', () => {
    const { logger, lines } = recordingLogger();
    const body = toErrorBody(new Error('secret detail at /srv/app.ts:12'), logger, 'rpc');
    expect(body).toEqual({ code: 'internal', message: 'internal error' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('rpc failed');
    expect(lines[0]).toContain('secret detail');
  });
});
