/**
 * Validating decoders for untrusted input. They never throw: every outcome is a value, either a
 * typed frame or a protocol error with the `id` to answer when one could be read.
 * @module
 */
import { channelNameError } from './channel.js';
import type { Codec, FrameData } from './codec.js';
import type { ErrorCode } from './codes.js';
import { CLIENT_FRAME_TYPES, type ClientFrame, type ErrorBody, type ServerFrame } from './frames.js';

export type Decoded<T> =
  | { ok: true; frame: T }
  | {
      ok: false;
      error: ErrorBody;
      /** The command id, when the frame had a usable one: answer with a `reply`, else an `error` frame. */
      id?: number;
    };

/** Deeper structures than this are refused: no legitimate frame needs them, and they cost stack. */
export const MAX_DEPTH = 64;
export const MAX_KEY_LENGTH = 128;
export const MAX_METHOD_LENGTH = 128;
export const MAX_TOKEN_LENGTH = 16_384;
export const MAX_EPOCH_LENGTH = 64;
/** Longest `cursor` of a `presence` command (the server's cursors are far shorter). */
export const MAX_CURSOR_LENGTH = 512;

type Obj = Record<string, unknown>;

const fail = (message: string, id?: number, code: ErrorCode = 'bad_request'): Decoded<never> =>
  id === undefined ? { ok: false, error: { code, message } } : { ok: false, error: { code, message }, id };

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isOffset = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isStr = (v: unknown, max = Infinity): v is string => typeof v === 'string' && v.length <= max;
const isNonEmpty = (v: unknown, max?: number): v is string => isStr(v, max) && v.length > 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Walks a decoded value without recursion and returns why it is unacceptable, or null:
 * only JSON values (plus byte arrays, which MessagePack carries), plain objects without
 * prototype-changing keys, and bounded depth. Every way data enters a server uses it: frames
 * here, the HTTP API's bodies and server `publish`.
 */
export function unsafeValue(root: unknown): string | null {
  const leaf = leafError(root);
  if (leaf !== undefined) return leaf;
  // Only containers go on the stack (leaves are checked where they are found), with their depth
  // in a parallel stack: this runs on every frame, and most values are leaves.
  const values: object[] = [root as object];
  const depths: number[] = [0];
  while (values.length > 0) {
    const value = values.pop() as object;
    const depth = (depths.pop() as number) + 1;
    if (depth > MAX_DEPTH) return `nested deeper than ${MAX_DEPTH} levels`;
    if (Array.isArray(value)) {
      for (const item of value) {
        const why = leafError(item);
        if (why === undefined) {
          values.push(item);
          depths.push(depth);
        } else if (why !== null) return why;
      }
      continue;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return 'only plain objects are allowed';
    for (const key of Object.keys(value)) {
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') return `key "${key}" is not allowed`;
      const item = (value as Obj)[key];
      const why = leafError(item);
      if (why === undefined) {
        values.push(item as object);
        depths.push(depth);
      } else if (why !== null) return why;
    }
  }
  return null;
}

/** Why a value that is not a container is unacceptable, or null; `undefined` for an object or array to walk. */
function leafError(value: unknown): string | null | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : 'numbers must be finite';
    case 'object':
      return value === null || value instanceof Uint8Array ? null : undefined;
    default:
      return `unsupported value of type ${typeof value}`;
  }
}

function parse(data: FrameData, codec: Codec, binary: boolean): Decoded<Obj> {
  if (binary !== codec.binary) {
    const kind = binary ? 'binary' : 'text';
    return fail(`${kind} frame on ${codec.name}: send ${codec.binary ? 'binary' : 'text'} frames`);
  }
  let value: unknown;
  try {
    value = codec.decode(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  } catch (err) {
    const why = err instanceof TypeError && /utf-?8|encod/i.test(err.message) ? 'invalid UTF-8' : 'malformed';
    return fail(`${why} ${codec.name} frame`);
  }
  if (!isObj(value)) return fail('a frame must be an object');
  const id = isId(value.id) ? value.id : undefined;
  const unsafe = unsafeValue(value);
  if (unsafe) return fail(unsafe, id);
  if (typeof value.type !== 'string') return fail('a frame must have a string "type"', id);
  return { ok: true, frame: value };
}

function channelOf(f: Obj, id: number): Decoded<never> | string {
  const why = channelNameError(f.channel);
  return why ? fail(why, id) : (f.channel as string);
}

/**
 * Decodes and validates a frame sent by a client. `binary` says which kind of WebSocket message
 * carried it (`ws` reports it as `isBinary`); by default bytes count as binary, strings as text.
 * The returned frame is rebuilt from validated fields only: unknown fields are dropped.
 */
export function decodeClientFrame(
  data: FrameData,
  codec: Codec,
  binary: boolean = typeof data !== 'string',
): Decoded<ClientFrame> {
  const parsed = parse(data, codec, binary);
  if (!parsed.ok) return parsed;
  const f = parsed.frame;
  const type = f.type as string;

  switch (type) {
    case 'pong':
      return { ok: true, frame: { type } };
    case 'ping':
      if (f.id === undefined) return { ok: true, frame: { type } };
      return isId(f.id) ? { ok: true, frame: { type, id: f.id } } : fail('"id" must be a positive integer');
    case 'heartbeat':
      if (f.timestamp !== undefined && !isNum(f.timestamp)) return fail('"timestamp" must be a number');
      return { ok: true, frame: f.timestamp === undefined ? { type } : { type, timestamp: f.timestamp } };
  }

  if (!(CLIENT_FRAME_TYPES as readonly string[]).includes(type))
    return fail(`unknown frame type "${type.slice(0, 32)}"`, isId(f.id) ? f.id : undefined);
  if (!isId(f.id)) return fail(`"${type}" needs an "id" that is a positive integer`);
  const id = f.id;
  switch (type) {
    case 'subscribe': {
      const channel = channelOf(f, id);
      if (typeof channel !== 'string') return channel;
      if (f.since === undefined) return { ok: true, frame: { type, id, channel } };
      const since = f.since;
      if (!isObj(since) || !isOffset(since.offset) || !isNonEmpty(since.epoch, MAX_EPOCH_LENGTH))
        return fail('"since" must be {offset: integer >= 0, epoch: string}', id);
      return { ok: true, frame: { type, id, channel, since: { offset: since.offset, epoch: since.epoch } } };
    }
    case 'unsubscribe': {
      const channel = channelOf(f, id);
      return typeof channel === 'string' ? { ok: true, frame: { type, id, channel } } : channel;
    }
    case 'presence': {
      const channel = channelOf(f, id);
      if (typeof channel !== 'string') return channel;
      if (f.limit !== undefined && !isId(f.limit)) return fail('"limit" must be an integer >= 1', id);
      if (f.cursor !== undefined && !isNonEmpty(f.cursor, MAX_CURSOR_LENGTH))
        return fail(`"cursor" must be a string of 1-${MAX_CURSOR_LENGTH} characters: the "next" of a page`, id);
      return {
        ok: true,
        frame: {
          type,
          id,
          channel,
          ...(f.limit !== undefined && { limit: f.limit }),
          ...(f.cursor !== undefined && { cursor: f.cursor }),
        },
      };
    }
    case 'publish': {
      const channel = channelOf(f, id);
      if (typeof channel !== 'string') return channel;
      if (!('data' in f)) return fail('"publish" needs "data"', id);
      if (f.key === undefined) return { ok: true, frame: { type, id, channel, data: f.data } };
      if (!isNonEmpty(f.key, MAX_KEY_LENGTH))
        return fail(`"key" must be a string of 1-${MAX_KEY_LENGTH} characters`, id);
      return { ok: true, frame: { type, id, channel, data: f.data, key: f.key } };
    }
    case 'rpc': {
      if (!isNonEmpty(f.method, MAX_METHOD_LENGTH))
        return fail(`"method" must be a string of 1-${MAX_METHOD_LENGTH} characters`, id);
      // Object literals, not a spread: spreading costs a microsecond per RPC on this hot path.
      const method = f.method;
      return { ok: true, frame: 'params' in f ? { type, id, method, params: f.params } : { type, id, method } };
    }
    case 'refresh':
      if (!isNonEmpty(f.token, MAX_TOKEN_LENGTH)) return fail('"token" must be a non-empty string', id);
      return { ok: true, frame: { type, id, token: f.token } };
    default:
      return fail(`unknown frame type "${type.slice(0, 32)}"`, id);
  }
}

const isErrorBody = (v: unknown): boolean => isObj(v) && isStr(v.code) && isStr(v.message);
const isClientList = (v: unknown): boolean =>
  v === undefined || (Array.isArray(v) && v.every((c) => isObj(c) && isStr(c.user) && isStr(c.connectionId)));

/** Per server frame type: does the frame carry the fields a client relies on? */
const SERVER_CHECKS: Record<ServerFrame['type'], (f: Obj) => boolean> = {
  welcome: (f) =>
    f.protocol === 1 &&
    isStr(f.connectionId) &&
    isStr(f.user) &&
    isObj(f.heartbeat) &&
    isNum(f.heartbeat.interval) &&
    isNum(f.heartbeat.timeout) &&
    isObj(f.limits) &&
    (f.expiresAt === undefined || isNum(f.expiresAt)),
  ping: (f) => f.id === undefined || isId(f.id),
  pong: (f) => f.id === undefined || isId(f.id),
  heartbeat: () => true,
  reply: (f) => isId(f.id) && (f.ok === true || (f.ok === false && isErrorBody(f.error))),
  message: (f) =>
    isStr(f.channel) &&
    isId(f.offset) &&
    isStr(f.epoch) &&
    isNum(f.ts) &&
    'data' in f &&
    (f.from === undefined || isStr(f.from)),
  presence_diff: (f) =>
    isStr(f.channel) && isNum(f.joined) && isNum(f.left) && isClientList(f.joins) && isClientList(f.leaves),
  unsubscribed: (f) => isStr(f.channel) && isStr(f.reason),
  error: (f) => isErrorBody(f.error),
};

/**
 * Whether an already decoded value is a server frame with the fields a client relies on: the
 * check half of {@link decodeServerFrame}, without its depth and key walk, for clients that run
 * the codec themselves and want the smallest bundle.
 */
export function isServerFrame(value: unknown): value is ServerFrame {
  return (
    isObj(value) &&
    typeof value.type === 'string' &&
    Object.hasOwn(SERVER_CHECKS, value.type) &&
    SERVER_CHECKS[value.type as ServerFrame['type']](value)
  );
}

/**
 * Decodes and validates a frame sent by a server. Lighter than {@link decodeClientFrame}
 * (it checks the fields a client relies on and keeps the frame as sent), since it ships in
 * every browser bundle.
 */
export function decodeServerFrame(
  data: FrameData,
  codec: Codec,
  binary: boolean = typeof data !== 'string',
): Decoded<ServerFrame> {
  const parsed = parse(data, codec, binary);
  if (!parsed.ok) return parsed;
  const f = parsed.frame;
  const check = SERVER_CHECKS[f.type as ServerFrame['type']];
  if (!check || !Object.hasOwn(SERVER_CHECKS, f.type as string))
    return fail(`unknown frame type "${(f.type as string).slice(0, 32)}"`);
  return check(f) ? { ok: true, frame: f as unknown as ServerFrame } : fail(`malformed "${f.type}" frame`);
}
