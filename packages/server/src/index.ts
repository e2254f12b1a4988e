/**
 * `@tether/server`: the Tether server on `ws`.
 * @module
 */
export * from './broker.js';
export { type MemoryBrokerOptions, memoryBroker } from './memory-broker.js';
export { type SqliteBrokerOptions, sqliteBroker } from './sqlite-broker.js';
