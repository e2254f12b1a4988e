import { runBrokerConformance } from '@tether/server/testing';
import { afterAll } from 'vitest';
import { redisBroker } from '../src/index.js';
import { deleteKeys, PREFIX, REDIS_URL, redisUnreachable, reportUnreachable } from './redis-env.js';

const unreachable = await redisUnreachable();
reportUnreachable(unreachable);

runBrokerConformance('redis', () => redisBroker({ url: REDIS_URL, prefix: PREFIX }), {
  clock: 'real',
  shared: true,
  ...(unreachable === undefined ? {} : { skip: unreachable }),
});

afterAll(async () => {
  if (unreachable === undefined) await deleteKeys();
});
