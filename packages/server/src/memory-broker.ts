/**
 * The memory broker and presence moved to `@tether/broker`; this file only re-exports them while
 * the server's own modules move their imports. Import from `@tether/broker` instead.
 * @deprecated
 * @module
 */
export {
  createMemoryBroker,
  createMemoryPresence,
  type MemoryBrokerOptions,
  type MemoryPresenceOptions,
  memoryBroker,
  newEpoch,
} from '@tether/broker';
