/**
 * The HTTP API of a draining node, for publishers during a deploy: it answers every publish while
 * it drains its WebSocket clients, then stops listening; a keep-alive connection is told
 * `Connection: close` and closed once idle, so it cannot hold the node past its drain. A request
 * then fails at the network (never a 5xx for an acknowledged-looking request): the publisher retries
 * it on another node with the same key. The cluster version is rolling-restart.test.ts.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { API_KEY, cleanup, connectAs, startServer, waitFor, within } from './helpers.js';

afterEach(cleanup);

interface Outcome {
  at: number;
  status?: number;
  offset?: number;
  error?: string;
}

it('answers every publish while draining, then stops listening: nothing it answered was refused or lost', async () => {
  const server = await startServer({ drainDelay: 300, drainSpread: 200 });
  const client = await connectAs(server);
  await client.ok({ type: 'subscribe', channel: 'room:h' });

  // One publisher on fetch's keep-alive pool, one request at a time, as fast as it is answered.
  const outcomes: Outcome[] = [];
  let publishing = true;
  const publisher = (async () => {
    for (let k = 0; publishing; k++) {
      try {
        const res = await fetch(`${server.http}/api/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ channel: 'room:h', data: k, key: `k${k}` }),
        });
        const body = (await res.json()) as { offset?: number };
        outcomes.push({ at: Date.now(), status: res.status, offset: body.offset });
      } catch (err) {
        outcomes.push({ at: Date.now(), error: (err as Error).message });
        // Paces the retries against a closed port; synchronises nothing.
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();
  await within(
    (async () => {
      while (outcomes.length < 5) await new Promise((r) => setTimeout(r, 10));
    })(),
    5_000,
    'the first publishes',
  );

  const started = Date.now();
  const closing = server.tether.close({ deadline: 5_000 });
  const { code } = await within(client.closed, 3_000, 'the client to get 1012');
  const clientClosed = Date.now();
  expect(code).toBe(1012);
  await within(closing, 4_000, 'close()');
  const closed = Date.now();
  // Well inside the deadline: the drain took delay + spread, not the 5 s a busy keep-alive socket held it before.
  expect(closed - started).toBeLessThan(3_000);
  await within(
    (async () => {
      while (!outcomes.some((o) => o.at > closed && o.error)) await new Promise((r) => setTimeout(r, 10));
    })(),
    3_000,
    'a publish after the close to fail',
  );
  publishing = false;
  await publisher;

  const answered = outcomes.filter((o) => o.status !== undefined);
  // Every answer is a 200 with the next offset: a draining node never refuses or loses a publish it answers.
  expect(answered.every((o) => o.status === 200)).toBe(true);
  expect(answered.map((o) => o.offset)).toEqual(answered.map((_, i) => i + 1));
  // It kept publishing during the drain delay, while the WebSocket client was still connected,
  expect(answered.some((o) => o.at > started && o.at < clientClosed)).toBe(true);
  // and after the first failure nothing answers any more: the port is closed.
  const firstError = outcomes.findIndex((o) => o.error);
  expect(firstError).toBeGreaterThan(0);
  expect(outcomes.slice(firstError).every((o) => o.error)).toBe(true);
});

/** Whether a new TCP connection to `port` is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const publishRequest = (k: number): [string, string] => {
  const body = JSON.stringify({ channel: 'room:k', data: k, key: `p${k}` });
  const head =
    'POST /api/publish HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
    `authorization: Bearer ${API_KEY}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
  return [head, body];
};

it('a keep-alive connection busy across the close is answered, told Connection: close and closed, not served until the deadline', async () => {
  const server = await startServer({ drainDelay: 200, drainSpread: 0 });
  const socket = connect(server.port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (d: Buffer) => {
    received += d.toString();
  });
  const ended = once(socket, 'close');
  // Request 1 in flight across the close: its headers and half its body now...
  const [head1, body1] = publishRequest(1);
  socket.write(head1 + body1.slice(0, 5));
  const started = Date.now();
  const closing = server.tether.close({ deadline: 5_000 });
  await waitFor(async () => !(await accepts(server.port)), 3_000, 'the port to stop accepting');
  // ...the rest once the node stopped listening, with request 2 pipelined behind it.
  const [head2, body2] = publishRequest(2);
  socket.write(body1.slice(5) + head2 + body2);
  await within(ended, 3_000, 'the node to close the keep-alive connection');
  await within(closing, 3_000, 'close()');
  expect(Date.now() - started).toBeLessThan(3_000);
  const responses = [...received.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n(\{[^}]*\})/g)].map((m) => ({
    status: Number(m[1]),
    connection: /^connection: *(.*)$/im.exec(m[2] as string)?.[1],
    body: JSON.parse(m[3] as string) as { offset: number },
  }));
  // Both publishes answered, in order; the one that arrived after the close closes the connection.
  expect(responses.map((r) => [r.status, r.body.offset])).toEqual([
    [200, 1],
    [200, 2],
  ]);
  expect(responses[1]?.connection).toBe('close');
});
