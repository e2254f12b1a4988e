/**
 * `@tether/redis`: the Redis broker for running many Tether nodes behind one load balancer.
 * @module
 */
export { type RedisBrokerOptions, redisBroker } from './redis-broker.js';
