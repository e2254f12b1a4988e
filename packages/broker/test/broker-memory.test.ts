import { describe, expect, it } from 'vitest';
import { createMemoryBroker, createMemoryPresence } from '../src/index.js';
import { recordEvents, runBrokerConformance, runPresenceConformance, waitFor } from '../src/testing.js';

runBrokerConformance('memory', ({ now }) => createMemoryBroker({ now }));
runPresenceConformance('memory', ({ now }) => ({ presence: createMemoryPresence({ now }) }));

describe('createMemoryPresence sweep', () => {
  it('announces the leave of an expired entry on its own, with the interval given as a Duration', async () => {
    let t = 1_000;
    const presence = createMemoryPresence({ now: () => t, sweepInterval: '20ms' });
    const events = recordEvents();
    await presence.start(events);
    try {
      await presence.add('room:a', { user: 'u1', connectionId: 'c1' }, 100);
      await presence.add('room:a', { user: 'u2', connectionId: 'c2' }, 10_000);
      t += 101;
      // Nobody calls list(): only the sweep can notice.
      await waitFor(() => events.leaves.length === 1, 2000, 'the sweep to announce the leave');
      expect(events.leaves).toEqual([{ channel: 'room:a', client: { user: 'u1', connectionId: 'c1' } }]);
      expect(await presence.list('room:a')).toEqual([{ user: 'u2', connectionId: 'c2' }]);
    } finally {
      await presence.close();
    }
  });

  it('refuses a sweep interval that is not a duration', () => {
    expect(() => createMemoryPresence({ sweepInterval: 'often' })).toThrow(RangeError);
    expect(() => createMemoryBroker({ sweepInterval: -1 })).toThrow(RangeError);
  });
});
