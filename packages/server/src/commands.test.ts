import { createMemoryBroker, createMemoryPresence } from '@tether/broker';
import { CLIENT_FRAME_TYPES, type CommandFrame } from '@tether/protocol';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createAuthenticator } from './auth.js';
import { Channels } from './channels.js';
import { type CommandContext, commandTable } from './commands.js';
import { createMetrics } from './metrics.js';
import { Namespaces } from './namespaces.js';
import { Publisher } from './publishing.js';

/** Client frames without a required `id`: answered (or not) outside the command table. */
const CONTROL = ['ping', 'pong', 'heartbeat'] as const;

function context(): CommandContext {
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics();
  const broker = createMemoryBroker();
  const presence = createMemoryPresence();
  const ns = new Namespaces();
  return {
    logger,
    metrics,
    ns,
    channels: new Channels(broker, presence, metrics, logger, {
      limits: { maxSubscriptions: 10 },
      presenceTtl: 60_000,
      presenceInterval: 100,
      presenceListLimit: 200,
    }),
    publisher: new Publisher(broker, ns, metrics, 60_000),
    presence,
    maxPresencePage: 1000,
    auth: createAuthenticator({ jwtSecret: 'unit-test-secret' }),
    rpcs: new Map(),
    rpcTimeout: 1_000,
    authorize: undefined,
  };
}

describe('commandTable', () => {
  it('has exactly one handler per command frame type of the protocol', () => {
    const table = commandTable(context());
    const commands = CLIENT_FRAME_TYPES.filter((t) => !(CONTROL as readonly string[]).includes(t));
    expect(Object.keys(table).sort()).toEqual([...commands].sort());
    for (const type of commands) expect(typeof table[type as CommandFrame['type']]).toBe('function');
  });
});
