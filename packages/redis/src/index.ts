/**
 * `@tether/redis`: the Redis broker for running many Tether nodes behind one load balancer.
 * @module
 */
export { REDIS_DEFAULTS, type RedisBrokerOptions } from './options.js';
export { createRedisBroker, type RedisBroker, redisBroker } from './redis-broker.js';
