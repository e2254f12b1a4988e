import { runBrokerConformance, runPresenceConformance } from '@tether/broker/testing';
import { afterAll } from 'vitest';
import { createRedisBroker } from '../src/index.js';
import { deleteKeys, PREFIX, REDIS_URL, redisUnreachable, reportUnreachable } from '../src/testing.js';

const unreachable = await redisUnreachable();
reportUnreachable(unreachable);
const skip = unreachable === undefined ? {} : { skip: unreachable };

runBrokerConformance('redis', () => createRedisBroker({ url: REDIS_URL, prefix: PREFIX }), {
  clock: 'real',
  shared: true,
  ...skip,
});

// The store under test is the broker's own `presence`: it shares the broker's connections and
// hears joins and leaves on the broker's subscriptions.
runPresenceConformance(
  'redis',
  () => {
    const broker = createRedisBroker({ url: REDIS_URL, prefix: PREFIX });
    return { broker, presence: broker.presence };
  },
  { clock: 'real', shared: true, ...skip },
);

afterAll(async () => {
  if (unreachable === undefined) await deleteKeys();
});
