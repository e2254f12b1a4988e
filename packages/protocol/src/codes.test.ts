import { describe, expect, it } from 'vitest';
import { CLOSE_POLICY, CloseCode, closePolicy, DEFAULT_CLOSE_POLICY } from './codes.js';

// Every close code in the protocol design's table, with what the client must do.
const DESIGN: [code: number, reconnect: boolean, backoff: 'quick' | 'normal' | 'long', refreshToken: boolean][] = [
  [1000, false, 'normal', false],
  [1001, true, 'quick', false],
  [1002, true, 'normal', false],
  [1007, true, 'normal', false],
  [1008, true, 'normal', false],
  [1009, true, 'normal', false],
  [1011, true, 'normal', false],
  [1012, true, 'quick', false],
  [1013, true, 'long', false],
  [4000, false, 'normal', false],
  [4001, true, 'normal', true],
  [4003, false, 'normal', false],
  [4008, true, 'long', false],
  [4009, true, 'normal', false],
  [4010, true, 'normal', false],
];

describe('close policy table', () => {
  it.each(DESIGN)('%i: reconnect %s with %s backoff, refresh token %s', (code, reconnect, backoff, refreshToken) => {
    expect(CLOSE_POLICY[code]).toMatchObject({ reconnect, backoff, refreshToken });
    expect(closePolicy(code)).toBe(CLOSE_POLICY[code]);
  });

  it('has a row for every exported close code and for nothing the design lacks', () => {
    const exported = Object.values(CloseCode).sort();
    const designed = [...DESIGN.map(([code]) => code), CloseCode.ABNORMAL].sort();
    expect(exported).toEqual(designed);
    expect(Object.keys(CLOSE_POLICY).map(Number).sort()).toEqual(designed);
  });

  it('reports the errors the design says to report', () => {
    const reported = Object.entries(CLOSE_POLICY)
      .filter(([, p]) => p.report)
      .map(([code]) => Number(code));
    expect(reported.sort()).toEqual([1002, 1007, 1009, 4000, 4003, 4008]);
  });

  it('retries unknown codes with the normal backoff', () => {
    expect(closePolicy(4999)).toBe(DEFAULT_CLOSE_POLICY);
    expect(DEFAULT_CLOSE_POLICY).toMatchObject({ reconnect: true, backoff: 'normal' });
  });
});
