/**
 * Wire-level load clients, one per server kind, all built on the same `ws` client so the load
 * generator costs the same whatever it talks to. They speak just enough of each protocol: raw
 * `ws` (text commands of bench/servers.ts), Socket.IO 4 (Engine.IO v4 packets over a WebSocket),
 * Tether v1 JSON, and Tether v1 MessagePack for the RPC scenario alone. Deliveries are counted
 * from the bytes, without parsing every frame.
 */
import { msgpackCodec } from '@tether/protocol/msgpack';
import WebSocket from 'ws';
import { CHANNEL } from './shared.js';

export type Kind = 'ws' | 'ws-json' | 'socketio' | 'tether' | 'tether-msgpack' | 'tether-redis';

export interface WireClient {
  /** Every frame received (pings, presence and replies included). */
  frames: number;
  /** Called for each delivered publication with its bytes. */
  onDelivery: ((data: Buffer) => void) | undefined;
  /** Called for each presence frame (`join`, `leave`, `presence_diff`, …). */
  onPresence: (() => void) | undefined;
  /** Called when the socket closes (the server went away or closed it). */
  onClose: (() => void) | undefined;
  /** Joins the room / subscribes to the channel; resolves when the server confirmed. */
  subscribe(channel?: string): Promise<void>;
  /** Sends a publication (Tether: to `channel`, the benchmark channel by default). */
  publish(json: string, channel?: string): void;
  /** One request/reply (echo RPC); resolves on the reply. */
  request(json: string): Promise<void>;
  close(): void;
  terminate(): void;
}

const TETHER_MESSAGE = Buffer.from('"type":"message"');
const TETHER_REPLY = Buffer.from('{"type":"reply"');
const TETHER_WELCOME = Buffer.from('"type":"welcome"');
const TETHER_PING = Buffer.from('"type":"ping"');
const TETHER_PRESENCE = [Buffer.from('"type":"join"'), Buffer.from('"type":"leave"'), Buffer.from('"type":"presence')];

/** A client socket and its open event; listeners go on before the first frame can arrive. */
function socket(url: string, protocols: string[] = []): { ws: WebSocket; opened: Promise<void> } {
  const ws = new WebSocket(url, protocols, { perMessageDeflate: false, handshakeTimeout: 15_000 });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      reject(new Error(`HTTP ${res.statusCode}`));
    });
  });
  return { ws, opened };
}

const startsAt = (buf: Buffer, mark: Buffer, within: number): boolean => {
  const at = buf.indexOf(mark);
  return at >= 0 && at < within;
};

/** Reads the number after `"t":` (the publish time the generator stamped), without JSON.parse. */
export function stampOf(buf: Buffer): number {
  const at = buf.indexOf('"t":');
  if (at < 0) return Number.NaN;
  let end = at + 4;
  while (end < buf.length) {
    const c = buf[end] as number;
    if ((c >= 48 && c <= 57) || c === 46 || c === 45 || c === 101 || c === 43) end++;
    else break;
  }
  return Number(buf.toString('latin1', at + 4, end));
}

/** Resolves the oldest waiter of a FIFO; closed-loop clients have at most a handful in flight. */
class Waiters {
  private readonly queue: (() => void)[] = [];
  push(fn: () => void): void {
    this.queue.push(fn);
  }
  shift(): void {
    this.queue.shift()?.();
  }
}

abstract class Base implements WireClient {
  frames = 0;
  onDelivery: ((data: Buffer) => void) | undefined;
  onPresence: (() => void) | undefined;
  onClose: (() => void) | undefined;
  /** Resolves once the server greeted this client (Socket.IO's `40`, Tether's `welcome`). */
  readonly greeted: Promise<void>;
  protected greet: () => void = () => {};
  constructor(readonly ws: WebSocket) {
    this.greeted = new Promise((resolve) => {
      this.greet = resolve;
    });
    ws.on('close', () => this.onClose?.());
    ws.on('error', () => {});
  }
  abstract subscribe(channel?: string): Promise<void>;
  abstract publish(json: string, channel?: string): void;
  abstract request(json: string): Promise<void>;
  close(): void {
    this.ws.close();
  }
  terminate(): void {
    this.ws.terminate();
  }
}

/** Tether requests waiting for their reply, by id; all refused when the socket closes. */
class Replies {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  constructor(ws: WebSocket) {
    ws.on('close', () => {
      for (const waiter of this.waiting.values()) waiter.reject(new Error('closed'));
      this.waiting.clear();
    });
  }
  /** A fresh id, for a frame that wants no reply. */
  id(): number {
    return this.nextId++;
  }
  /** Sends the frame `send` builds for a fresh id; resolves when the reply with that id is ok. */
  ask(send: (id: number) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      send(id);
    });
  }
  settle(id: number, ok: boolean, message = 'refused'): void {
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    if (ok) waiter?.resolve();
    else waiter?.reject(new Error(message));
  }
}

/** Raw `ws`: `sub` joins the room (answered `ok`), `{"rpc"…}` is echoed, anything else is forwarded. */
class RawWsClient extends Base {
  private readonly acks = new Waiters();
  constructor(ws: WebSocket) {
    super(ws);
    ws.on('message', (data: Buffer) => {
      this.frames++;
      if (data.length === 2 && data[0] === 111 /* o */) this.acks.shift();
      else if (data[2] === 114 /* {"r */) this.acks.shift();
      else this.onDelivery?.(data);
    });
  }
  subscribe(): Promise<void> {
    return new Promise((resolve) => {
      this.acks.push(resolve);
      this.ws.send('sub');
    });
  }
  publish(json: string): void {
    this.ws.send(json);
  }
  request(json: string): Promise<void> {
    return new Promise((resolve) => {
      this.acks.push(resolve);
      this.ws.send(`{"rpc":1,${json.slice(1)}`);
    });
  }
}

/** Socket.IO 4 over a bare WebSocket: `40` connects the main namespace, `42[…]` events, `43id[…]` acks. */
class SocketIoClient extends Base {
  private nextAck = 1;
  private readonly acks = new Map<number, () => void>();
  constructor(ws: WebSocket) {
    super(ws);
    ws.on('message', (data: Buffer) => {
      this.frames++;
      const type = data[0];
      if (type === 50 /* 2: ping */) {
        ws.send('3');
        return;
      }
      if (type === 48 /* 0: open */) {
        ws.send('40');
        return;
      }
      if (type !== 52 /* 4: message */) return;
      const sub = data[1];
      if (sub === 48 /* 40 connect ack */) this.greet();
      else if (sub === 50 /* 42 event */) this.onDelivery?.(data);
      else if (sub === 51 /* 43 ack */) {
        let end = 2;
        while ((data[end] as number) >= 48 && (data[end] as number) <= 57) end++;
        const id = Number(data.toString('latin1', 2, end));
        const fn = this.acks.get(id);
        this.acks.delete(id);
        fn?.();
      }
    });
  }
  private emitWithAck(event: string, json: string): Promise<void> {
    return new Promise((resolve) => {
      const id = this.nextAck++;
      this.acks.set(id, resolve);
      this.ws.send(`42${id}["${event}",${json}]`);
    });
  }
  subscribe(): Promise<void> {
    return this.emitWithAck('sub', '{}');
  }
  publish(json: string): void {
    this.ws.send(`42["pub",${json}]`);
  }
  request(json: string): Promise<void> {
    return this.emitWithAck('rpc', json);
  }
}

/** Tether v1 JSON: waits for `welcome`; replies are matched by id, deliveries spotted by their type. */
class TetherClient extends Base {
  private readonly replies: Replies;
  /** Position of the last subscribe, so a resubscribe after a restart asks for what it missed. */
  position: { offset: number; epoch: string } | undefined;
  constructor(ws: WebSocket) {
    super(ws);
    this.replies = new Replies(ws);
    ws.on('message', (data: Buffer) => {
      this.frames++;
      if (startsAt(data, TETHER_MESSAGE, 24)) {
        this.onDelivery?.(data);
        return;
      }
      if (data.subarray(0, TETHER_REPLY.length).equals(TETHER_REPLY)) {
        const reply = JSON.parse(data.toString()) as {
          id: number;
          ok: boolean;
          result?: { offset?: number; epoch?: string };
          error?: { message: string };
        };
        if (reply.ok && reply.result?.epoch !== undefined)
          this.position = { offset: reply.result.offset ?? 0, epoch: reply.result.epoch };
        this.replies.settle(reply.id, reply.ok, reply.error?.message);
        return;
      }
      if (TETHER_PRESENCE.some((mark) => startsAt(data, mark, 24))) {
        this.onPresence?.();
        return;
      }
      if (startsAt(data, TETHER_WELCOME, 24)) this.greet();
      else if (startsAt(data, TETHER_PING, 24)) ws.send('{"type":"pong"}');
    });
  }
  private command(body: string): Promise<void> {
    return this.replies.ask((id) => this.ws.send(`{"id":${id},${body}}`));
  }
  subscribe(channel = CHANNEL): Promise<void> {
    const since = this.position ? `,"since":${JSON.stringify(this.position)}` : '';
    return this.command(`"type":"subscribe","channel":${JSON.stringify(channel)}${since}`);
  }
  publish(json: string, channel = CHANNEL): void {
    this.ws.send(`{"type":"publish","id":${this.replies.id()},"channel":${JSON.stringify(channel)},"data":${json}}`);
  }
  request(json: string): Promise<void> {
    return this.command(`"type":"rpc","method":"echo","params":${json}`);
  }
}

/**
 * Tether v1 over MessagePack (`tether.v1.msgpack`), for the RPC scenario: every frame is decoded
 * (binary frames have no text to scan), which costs the generator, not the server measured.
 */
class TetherMsgpackClient extends Base {
  private readonly replies: Replies;
  constructor(ws: WebSocket) {
    super(ws);
    this.replies = new Replies(ws);
    ws.on('message', (data: Buffer) => {
      this.frames++;
      const f = msgpackCodec.decode(data) as { type?: string; id?: number; ok?: boolean; error?: { message: string } };
      if (f.type === 'reply' && f.id !== undefined) this.replies.settle(f.id, f.ok === true, f.error?.message);
      else if (f.type === 'welcome') this.greet();
      else if (f.type === 'ping') ws.send(msgpackCodec.encode({ type: 'pong' }));
    });
  }
  subscribe(): Promise<void> {
    return Promise.reject(new Error('tether-msgpack runs the RPC scenario only'));
  }
  publish(): void {
    throw new Error('tether-msgpack runs the RPC scenario only');
  }
  /** The last params parsed (the scenario sends the same body every time). */
  private params: { json: string; value: unknown } | undefined;
  request(json: string): Promise<void> {
    if (this.params?.json !== json) this.params = { json, value: JSON.parse(json) };
    const params = this.params.value;
    return this.replies.ask((id) => this.ws.send(msgpackCodec.encode({ type: 'rpc', id, method: 'echo', params })));
  }
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });

/** Opens one connection of `kind` and waits (at most 15 s) until the server greeted it. */
export function connect(kind: Kind, port: number, token: string): Promise<WireClient> {
  return within(connectUnbounded(kind, port, token), 15_000, `${kind} connect`);
}

/** Where each greeting kind connects, with which subprotocols, and the client that speaks it. */
const tetherUrl = (port: number, token: string) => `ws://127.0.0.1:${port}/ws?token=${token}`;
const GREETED = {
  socketio: {
    url: (port: number) => `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
    protocols: [],
    Client: SocketIoClient,
  },
  tether: { url: tetherUrl, protocols: ['tether.v1'], Client: TetherClient },
  'tether-redis': { url: tetherUrl, protocols: ['tether.v1'], Client: TetherClient },
  'tether-msgpack': { url: tetherUrl, protocols: ['tether.v1.msgpack'], Client: TetherMsgpackClient },
} satisfies Record<
  Exclude<Kind, 'ws' | 'ws-json'>,
  { url: (port: number, token: string) => string; protocols: string[]; Client: new (ws: WebSocket) => Base }
>;

async function connectUnbounded(kind: Kind, port: number, token: string): Promise<WireClient> {
  if (kind === 'ws' || kind === 'ws-json') {
    const { ws, opened } = socket(`ws://127.0.0.1:${port}`);
    const client = new RawWsClient(ws);
    await opened;
    return client;
  }
  const { url, protocols, Client } = GREETED[kind];
  const { ws, opened } = socket(url(port, token), protocols);
  const client = new Client(ws);
  await opened;
  await client.greeted;
  return client;
}
