/**
 * `@tether/broker/testing`: the conformance suites. Every `Broker` (memory, SQLite, Redis, or your
 * own) runs `runBrokerConformance`, and every `PresenceStore` runs `runPresenceConformance`, so
 * "offsets are global per channel", "a repeated key publishes nothing", "events come in offset
 * order" and "an expired entry leaves once" mean the same thing for all of them.
 *
 * Test-only entry: it imports `vitest` (4.x), which whoever runs the tests installs as a dev
 * dependency. It is deliberately not a dependency of this package, not even an optional peer, so
 * that installing the package brings no test tooling into a production tree.
 * @example
 * ```ts
 * import { createMemoryBroker, createMemoryPresence } from '@tether/broker';
 * import { runBrokerConformance, runPresenceConformance } from '@tether/broker/testing';
 * runBrokerConformance('memory', ({ now }) => createMemoryBroker({ now }));
 * runPresenceConformance('memory', ({ now }) => ({ presence: createMemoryPresence({ now }) }));
 * ```
 * @module
 */
export { type BrokerConformanceOptions, type MakeBroker, runBrokerConformance } from './conformance/broker.js';
export {
  type MakePresence,
  type PresenceConformanceOptions,
  type PresenceUnderTest,
  runPresenceConformance,
} from './conformance/presence.js';
export {
  type ConformanceContext,
  type ConformanceOptions,
  type EventRecorder,
  recordEvents,
  waitFor,
} from './conformance/util.js';
