import { describe, expect, it } from 'vitest';
import { createMemoryBroker, memoryBroker, newEpoch, serialPerKey } from '../src/index.js';

describe('serialPerKey', () => {
  it('runs tasks of one key in call order, one at a time, past a rejection', async () => {
    const run = serialPerKey();
    const log: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = run('a', async () => {
      log.push('a1 start');
      await gate;
      log.push('a1 end');
      throw new Error('a1 failed');
    });
    const second = run('a', async () => {
      log.push('a2');
      return 2;
    });
    const other = run('b', async () => {
      log.push('b1');
      return 'b';
    });
    expect(await other).toBe('b');
    expect(log).toEqual(['a1 start', 'b1']);
    release();
    await expect(first).rejects.toThrow('a1 failed');
    expect(await second).toBe(2);
    expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
  });
});

describe('newEpoch', () => {
  it('gives distinct url-safe strings', () => {
    const epochs = new Set(Array.from({ length: 100 }, () => newEpoch()));
    expect(epochs.size).toBe(100);
    for (const e of epochs) expect(e).toMatch(/^[A-Za-z0-9_-]{8}$/);
  });
});

it('keeps memoryBroker as an alias of createMemoryBroker', () => {
  expect(memoryBroker).toBe(createMemoryBroker);
});
