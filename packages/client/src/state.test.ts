import { describe, expect, it } from 'vitest';
import { type ClientState, canTransition, TRANSITIONS } from './state.js';

describe('transitions', () => {
  it('allow exactly the documented moves', () => {
    const all = Object.keys(TRANSITIONS) as ClientState[];
    const allowed = all.flatMap((from) => all.filter((to) => canTransition(from, to)).map((to) => `${from}>${to}`));
    expect(allowed.sort()).toEqual(
      [
        'idle>connecting',
        'idle>closed',
        'connecting>open',
        'connecting>reconnecting',
        'connecting>closed',
        'open>reconnecting',
        'open>closed',
        'reconnecting>open',
        'reconnecting>closed',
        'closed>connecting',
      ].sort(),
    );
  });
});
