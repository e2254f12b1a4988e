// @vitest-environment happy-dom
/** The public surface of the entries, so a rename or a leaked internal is a visible change. */
import { expect, it } from 'vitest';
import * as chat from '../src/chat.js';
import * as main from '../src/index.js';
import * as share from '../src/share.js';

it('exports exactly the public API', () => {
  expect(Object.keys(main).sort()).toEqual([
    'NOTICE_EVENT',
    'TETHER_KEY',
    'cookieToken',
    'createTether',
    'useChannel',
    'usePresence',
    'useTether',
    'useWebSocket',
  ]);
  expect(Object.keys(chat).sort()).toEqual(['defineChatStore', 'useChatStore']);
  expect(Object.keys(share)).toEqual(['createTether']);
});
