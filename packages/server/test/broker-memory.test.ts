import { memoryBroker } from '../src/memory-broker.js';
import { runBrokerConformance } from '../src/testing.js';

runBrokerConformance('memory', ({ now }) => memoryBroker({ now }));
