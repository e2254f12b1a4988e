import { describe, expect, it } from 'vitest';
import { createRedisBroker, REDIS_DEFAULTS, redisBroker } from '../src/index.js';
import { resolveOptions } from '../src/options.js';

describe('createRedisBroker options', () => {
  it('applies the defaults', () => {
    expect(resolveOptions({})).toEqual({
      url: REDIS_DEFAULTS.url,
      prefix: 'tether:',
      sweepInterval: 10_000,
      idleChannelTtl: 86_400_000,
      connectTimeout: 10_000,
      delay: { min: 50, max: 2000 },
      healthCheck: { interval: 5_000, timeout: 3_000 },
    });
  });

  it('takes healthCheck durations, false to turn it off, and refuses zero', () => {
    expect(resolveOptions({ healthCheck: { interval: '1s', timeout: '500ms' } }).healthCheck).toEqual({
      interval: 1_000,
      timeout: 500,
    });
    expect(resolveOptions({ healthCheck: false }).healthCheck).toBeUndefined();
    expect(() => resolveOptions({ healthCheck: { interval: 0 } })).toThrow(RangeError);
  });

  it('accepts durations as strings and appends `:` to the prefix', () => {
    const o = resolveOptions({
      prefix: 'chat',
      sweepInterval: '5s',
      idleChannelTtl: '1h',
      connectTimeout: '500ms',
      reconnect: { minDelay: '20ms', maxDelay: '1s' },
    });
    expect(o).toMatchObject({ prefix: 'chat:', sweepInterval: 5000, idleChannelTtl: 3_600_000, connectTimeout: 500 });
    expect(o.delay).toEqual({ min: 20, max: 1000 });
  });

  it('still reads the deprecated reconnectDelay, and reconnect wins over it', () => {
    expect(resolveOptions({ reconnectDelay: { min: 10, max: 90 } }).delay).toEqual({ min: 10, max: 90 });
    expect(resolveOptions({ reconnectDelay: { min: 10, max: 90 }, reconnect: { maxDelay: 500 } }).delay).toEqual({
      min: 10,
      max: 500,
    });
  });

  it('refuses delays that are not 0 < minDelay <= maxDelay, and a prefix that is not a string', () => {
    expect(() => createRedisBroker({ reconnect: { minDelay: 0 } })).toThrow(RangeError);
    expect(() => createRedisBroker({ reconnect: { minDelay: 500, maxDelay: 100 } })).toThrow(RangeError);
    expect(() => createRedisBroker({ prefix: 7 as unknown as string })).toThrow(TypeError);
    expect(() => createRedisBroker({ sweepInterval: 'soon' })).toThrow(RangeError);
  });

  it('keeps redisBroker as an alias of createRedisBroker, with presence on every broker', () => {
    expect(redisBroker).toBe(createRedisBroker);
    expect(typeof createRedisBroker().presence.add).toBe('function');
  });
});
