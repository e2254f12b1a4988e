import type { PresenceClient, PresenceDiffFrame } from '@tether/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { PresenceBatcher } from './presence-batch.js';

const client = (i: number): PresenceClient => ({ user: `u${i}`, connectionId: `c${i}` });

let batcher: PresenceBatcher | undefined;
afterEach(() => batcher?.stop());

/** A batcher whose rounds the test runs by hand (`run(now)`), with `subscribers` per channel. */
function setup(subscribers: Record<string, number>, listLimit = 100) {
  const sent: PresenceDiffFrame[] = [];
  batcher = new PresenceBatcher(
    { interval: 100, listLimit, maxInterval: 5_000 },
    (channel) => subscribers[channel] ?? 0,
    (_channel, frame) => sent.push(frame),
  );
  return { b: batcher, sent };
}

describe('PresenceBatcher', () => {
  it('sends 1,000 arrivals on one channel as one diff, not 1,000 frames', () => {
    const { b, sent } = setup({ 'room:a': 50 }, 2_000);
    for (let i = 0; i < 1_000; i++) b.add('join', 'room:a', client(i));
    b.run(1_000);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ type: 'presence_diff', channel: 'room:a', joined: 1_000, left: 0 });
    expect(sent[0]?.joins).toHaveLength(1_000);
    expect(sent[0]?.leaves).toEqual([]);
    b.run(2_000);
    expect(sent).toHaveLength(1);
  });

  it('keeps one diff per channel per round', () => {
    const { b, sent } = setup({ 'room:a': 3, 'room:b': 3 });
    b.add('join', 'room:a', client(1));
    b.add('join', 'room:b', client(2));
    b.add('join', 'room:a', client(3));
    b.run(1_000);
    expect(sent.map((f) => [f.channel, f.joins?.length])).toEqual([
      ['room:a', 2],
      ['room:b', 1],
    ]);
  });

  it('turns a join then a leave into a leave, and a leave then a rejoin into both (leaves apply first)', () => {
    const { b, sent } = setup({ 'room:a': 3 });
    b.add('join', 'room:a', client(1));
    b.add('leave', 'room:a', client(1));
    b.add('leave', 'room:a', client(2));
    b.add('join', 'room:a', client(2));
    b.run(1_000);
    expect(sent).toEqual([
      {
        type: 'presence_diff',
        channel: 'room:a',
        joined: 2,
        left: 2,
        joins: [client(2)],
        leaves: [client(1), client(2)],
      },
    ]);
  });

  it('sends counts only above listLimit and then waits longer before the next diff', () => {
    const { b, sent } = setup({ 'live:x': 1_000 }, 100);
    for (let i = 0; i < 500; i++) b.add('join', 'live:x', client(i));
    b.add('leave', 'live:x', client(7));
    b.run(1_000);
    expect(sent).toEqual([{ type: 'presence_diff', channel: 'live:x', joined: 500, left: 1 }]);
    // 1,000 subscribers / listLimit 100 = 10 intervals of 100 ms before the next diff.
    b.add('join', 'live:x', client(900));
    b.run(1_500);
    expect(sent).toHaveLength(1);
    b.run(2_000);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual({ type: 'presence_diff', channel: 'live:x', joined: 1, left: 0 });
  });

  it('drops the changes of a channel nobody here is subscribed to any more', () => {
    const { b, sent } = setup({});
    b.add('join', 'room:gone', client(1));
    b.run(1_000);
    expect(sent).toEqual([]);
  });
});
