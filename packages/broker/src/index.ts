/**
 * `@tether/broker`: the contracts between a Tether server and the store it shares with other
 * nodes — `Broker` (publications: offsets, history, dedup, fan-out) and `PresenceStore` — with
 * in-memory reference implementations. Broker packages (`@tether/sqlite`, `@tether/redis`, your own)
 * depend on this package alone; `@tether/broker/testing` is the suite each of them must pass.
 * @module
 */
export * from './broker.js';
export * from './errors.js';
export { newEpoch, type SerialRunner, serialPerKey } from './helpers.js';
export { createMemoryBroker, type MemoryBrokerOptions, memoryBroker } from './memory-broker.js';
export { createMemoryPresence, type MemoryPresenceOptions } from './memory-presence.js';
export * from './presence.js';
