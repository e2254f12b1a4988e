/** The public surface of `@tether/client`: a change here is a change users see. */
import { expect, it } from 'vitest';
import * as client from '../src/index.js';

it('exports exactly the documented runtime names', () => {
  expect(Object.keys(client).sort()).toEqual([
    'CLIENT_DEFAULTS',
    'DEFAULT_RECONNECT',
    'DisconnectedError',
    'Emitter',
    'HEALTHY_AFTER',
    'QueueFullError',
    'ServerError',
    'Subscription',
    'TRANSITIONS',
    'TetherError',
    'TimeoutError',
    'WebSocketManager',
    'backoff',
    'canTransition',
    'createClient',
    'reconnectDelay',
  ]);
});
