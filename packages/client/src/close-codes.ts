/**
 * The close codes the client uses itself, each typed as its `CloseCode` member, so a wrong number
 * fails the build. Not `CloseCode.X` at the call sites: a bundler cannot inline an object's
 * members, and importing the whole table would cost the browser bundle ~230 B gzipped.
 * @module
 */
import type { CloseCode } from '@tether/protocol';

export const NORMAL: typeof CloseCode.NORMAL = 1000;
export const ABNORMAL: typeof CloseCode.ABNORMAL = 1006;
export const UNAUTHORIZED: typeof CloseCode.UNAUTHORIZED = 4001;
export const HEARTBEAT_TIMEOUT: typeof CloseCode.HEARTBEAT_TIMEOUT = 4010;
