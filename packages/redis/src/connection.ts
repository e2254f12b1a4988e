/**
 * The Redis connections of one broker and how a script runs on them: by SHA, reloaded on
 * NOSCRIPT, with "Redis cannot serve this now" turned into `BrokerUnavailableError`.
 * @module
 */
import { createHash } from 'node:crypto';
import { BrokerUnavailableError } from '@tether/broker';
import { createClient, ErrorReply } from 'redis';
import { HISTORY, PRESENCE_ADD, PRESENCE_LIST, PRESENCE_REMOVE, PUBLISH } from './lua.js';

/** Reconnection delay bounds in ms: doubling from `min` up to `max`. */
export interface DelayBounds {
  min: number;
  max: number;
}

export function makeClient(url: string, connectTimeout: number, delay: DelayBounds) {
  return createClient({
    url,
    RESP: 3,
    // Queued commands would wait out an outage and then publish late; fail them now instead.
    disableOfflineQueue: true,
    socket: {
      connectTimeout,
      reconnectStrategy: (retries: number) => Math.min(delay.max, delay.min * 2 ** Math.min(retries, 16)),
    },
  });
}
export type Client = ReturnType<typeof makeClient>;

export interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
export const SCRIPTS = {
  publish: script(PUBLISH),
  history: script(HISTORY),
  presenceAdd: script(PRESENCE_ADD),
  presenceRemove: script(PRESENCE_REMOVE),
  presenceList: script(PRESENCE_LIST),
};

/** Replies that mean "Redis cannot serve this right now", not "this request is wrong". */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|OOM)\b/;

export const unavailable = (cause?: unknown): BrokerUnavailableError =>
  new BrokerUnavailableError('Redis is unreachable', cause === undefined ? undefined : { cause });

/**
 * Runs a script by SHA, loading it on NOSCRIPT (a restarted or flushed Redis forgets scripts).
 * Rejects with `BrokerUnavailableError` when `client` is missing or not ready, or Redis fails.
 */
export async function runScript(
  client: Client | undefined,
  s: Script,
  keys: string[],
  args: string[],
): Promise<unknown> {
  if (!client?.isReady) throw unavailable();
  const tail = [String(keys.length), ...keys, ...args];
  try {
    try {
      return await client.sendCommand(['EVALSHA', s.sha, ...tail]);
    } catch (error) {
      if (error instanceof ErrorReply && error.message.startsWith('NOSCRIPT'))
        return await client.sendCommand(['EVAL', s.source, ...tail]);
      throw error;
    }
  } catch (error) {
    // A reply error from a healthy Redis is a bug worth seeing as is; anything else (socket
    // closed, offline, timeout, a failing-over server) means "try again later".
    if (error instanceof ErrorReply && !TRANSIENT_REPLY.test(error.message)) throw error;
    throw unavailable(error);
  }
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured Redis URL';
  }
}
