import { createMemoryBroker, createMemoryPresence } from '../src/index.js';
import { runBrokerConformance, runPresenceConformance } from '../src/testing.js';

runBrokerConformance('memory', ({ now }) => createMemoryBroker({ now }));
runPresenceConformance('memory', ({ now }) => ({ presence: createMemoryPresence({ now }) }));
