/**
 * An in-memory WebSocket for unit tests that run under fake timers (real sockets and fake time do
 * not mix). The test drives it: open, receive, drop.
 */
import type { WebSocketConstructor, WebSocketLike } from '../src/transport.js';

export interface FakeSocket extends WebSocketLike {
  url: string;
  protocols: string[];
  /** Frames the client sent, parsed. */
  sent: Record<string, unknown>[];
  closed: { code?: number; reason?: string } | undefined;
  readyState: number;
  open(protocol?: string): void;
  receive(frame: unknown): void;
  welcome(heartbeat?: { interval: number; timeout: number }): void;
  drop(code: number, reason?: string): void;
}

export function fakeSockets(): { Ctor: WebSocketConstructor; all: FakeSocket[]; last(): FakeSocket } {
  const all: FakeSocket[] = [];
  class Fake implements FakeSocket {
    binaryType = 'blob';
    protocol = '';
    readyState = 0;
    sent: Record<string, unknown>[] = [];
    closed: FakeSocket['closed'];
    onopen: ((event: never) => void) | null = null;
    onmessage: ((event: never) => void) | null = null;
    onclose: ((event: never) => void) | null = null;
    onerror: ((event: never) => void) | null = null;
    protocols: string[];
    constructor(
      public url: string,
      protocols?: string | string[],
    ) {
      this.protocols = protocols === undefined ? [] : ([] as string[]).concat(protocols);
      all.push(this);
    }
    send(data: string | Uint8Array): void {
      if (this.readyState !== 1) throw new Error('send on a socket that is not open');
      try {
        this.sent.push(JSON.parse(String(data)));
      } catch {
        this.sent.push(String(data) as unknown as Record<string, unknown>);
      }
    }
    close(code?: number, reason?: string): void {
      this.readyState = 3;
      this.closed = { code, reason };
    }
    open(protocol = 'tether.v1'): void {
      this.protocol = protocol;
      this.readyState = 1;
      (this.onopen as ((e: unknown) => void) | null)?.({});
    }
    receive(frame: unknown): void {
      (this.onmessage as ((e: unknown) => void) | null)?.({
        data: typeof frame === 'string' ? frame : JSON.stringify(frame),
      });
    }
    welcome(heartbeat = { interval: 1000, timeout: 500 }): void {
      if (this.readyState === 0) this.open();
      this.receive({
        type: 'welcome',
        protocol: 1,
        connectionId: `c${all.length}`,
        user: 'u1',
        heartbeat,
        limits: { maxPayload: 65536, messagesPerSecond: 50, maxSubscriptions: 100 },
      });
    }
    drop(code: number, reason = ''): void {
      this.readyState = 3;
      (this.onclose as ((e: unknown) => void) | null)?.({ code, reason });
    }
  }
  return { Ctor: Fake, all, last: () => all[all.length - 1] as FakeSocket };
}
