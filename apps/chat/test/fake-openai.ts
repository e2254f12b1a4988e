/**
 * A local OpenAI-compatible endpoint for tests: `POST /v1/chat/completions` streams server-sent
 * events like the real thing. The last user message picks the behaviour: `slow …` streams for a
 * long time (to be stopped), `slow once …` does so the first time it is asked only, `fail …`
 * answers 401, anything else streams a short Markdown reply.
 * It records every request and whether the client closed a stream before it ended.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface FakeRequest {
  authorization: string | undefined;
  body: { model?: string; stream?: boolean; messages?: { role: string; content: string }[] };
}

export const FAST_REPLY = ['Here is **bold** text', ' and a list:\n\n', '- one\n', '- two\n'];

export async function startFakeOpenAi() {
  const requests: FakeRequest[] = [];
  const asked = new Map<string, number>();
  let onAbort: (() => void) | undefined;
  let aborted = 0;
  const read = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve) => {
      let s = '';
      req.on('data', (d: Buffer) => {
        s += d.toString();
      });
      req.on('end', () => resolve(s));
    });

  const server: Server = createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.parse(await read(req)) as FakeRequest['body'];
    requests.push({ authorization: req.headers.authorization, body });
    const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user')?.content ?? '';
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: '"Fake title."' } }] }));
      return;
    }
    if (last.startsWith('fail')) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    asked.set(last, (asked.get(last) ?? 0) + 1);
    const slow = last.startsWith('slow once') ? asked.get(last) === 1 : last.startsWith('slow');
    const parts = slow ? Array.from({ length: 400 }, (_, i) => `word${i} `) : FAST_REPLY;
    const delay = slow ? 50 : 20;
    let i = 0;
    let ended = false;
    res.on('close', () => {
      if (ended) return;
      aborted++;
      onAbort?.();
    });
    const timer = setInterval(() => {
      const part = parts[i++];
      if (part === undefined) {
        clearInterval(timer);
        ended = true;
        res.end('data: [DONE]\n\n');
        return;
      }
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: part } }] })}\n\n`);
    }, delay);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    /** How many streams the client closed before their end. */
    aborted: () => aborted,
    /** Resolves when the client closes a stream before its end. */
    nextAbort: () =>
      new Promise<void>((resolve) => {
        onAbort = resolve;
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
