/**
 * `@tether/protocol`: the wire contract both the client and the server import.
 * MessagePack lives in the `@tether/protocol/msgpack` entry so JSON-only bundles stay small.
 * @module
 */
export * from './channel.js';
export * from './codec.js';
export * from './codes.js';
export * from './decode.js';
export * from './duration.js';
export * from './frames.js';
