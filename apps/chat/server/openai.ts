/**
 * The `openai` responder: any OpenAI-compatible `POST <base>/chat/completions` with
 * `stream: true` (OpenAI, or a local model server such as llama.cpp, Ollama or vLLM), its
 * server-sent events parsed by `eventsource-parser`. Cancel and shutdown abort the request;
 * every upstream failure becomes a {@link ResponderError} a person can read.
 * @module
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { makeTitle, type Responder, ResponderError, type Turn } from './responder.js';

export interface OpenAiOptions {
  /** Base URL up to and including the version, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  apiKey?: string;
  model: string;
  /** No byte from upstream for this long (ms) ends the reply with an error. @default 60000 */
  idleTimeout?: number;
}

const SYSTEM =
  'You are the assistant of the Tether chat demo. Answer briefly and helpfully; use Markdown when it helps.';
const TITLE =
  'Give this conversation a title of at most six words. Answer with the title only, no quotes, no final period.';

interface Chunk {
  choices?: { delta?: { content?: string | null }; message?: { content?: string | null } }[];
  error?: { message?: string };
}

/** The configured responder, or undefined when the environment does not ask for `openai`. */
export function openAiFromEnv(env: NodeJS.ProcessEnv = process.env): Responder | undefined {
  const wanted = env.TETHER_CHAT_RESPONDER;
  if (wanted === 'echo') return undefined;
  const baseUrl = env.TETHER_OPENAI_BASE_URL;
  if (wanted !== 'openai' && !baseUrl) return undefined;
  return openAiResponder({
    baseUrl: baseUrl || 'https://api.openai.com/v1',
    model: env.TETHER_OPENAI_MODEL || 'gpt-4o-mini',
    ...(env.TETHER_OPENAI_API_KEY && { apiKey: env.TETHER_OPENAI_API_KEY }),
  });
}

const clip = (s: string, n = 200): string => (s.length > n ? `${s.slice(0, n)}…` : s);

export function openAiResponder(options: OpenAiOptions): Responder {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const idle = options.idleTimeout ?? 60_000;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;

  /** POSTs `body`; a non-2xx answer or an unreachable server throws a readable ResponderError. */
  async function post(body: object, signal: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal });
    } catch (err) {
      if (signal.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ResponderError(
        `Could not reach the model server at ${options.baseUrl} (${cause?.code ?? cause?.message ?? 'network error'}).`,
      );
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let detail = clip(text.trim());
      try {
        detail = (JSON.parse(text) as Chunk).error?.message ?? detail;
      } catch {}
      throw new ResponderError(`The model server answered ${res.status}${detail ? `: ${clip(detail)}` : '.'}`);
    }
    return res;
  }

  return {
    name: 'openai',
    deterministic: false,
    async *reply(history: readonly Turn[], signal: AbortSignal) {
      // Our own controller: aborted by the caller's signal, or by upstream silence.
      const ctl = new AbortController();
      const onAbort = (): void => ctl.abort();
      signal.addEventListener('abort', onAbort);
      let silent = false;
      let timer = setTimeout(() => {
        silent = true;
        ctl.abort();
      }, idle);
      const poke = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          silent = true;
          ctl.abort();
        }, idle);
      };
      try {
        const res = await post(
          { model: options.model, stream: true, messages: [{ role: 'system', content: SYSTEM }, ...history] },
          ctl.signal,
        );
        if (!res.body) throw new ResponderError('The model server sent an empty answer.');
        const queue: string[] = [];
        let done = false;
        let failure: string | undefined;
        const parser = createParser({
          onEvent(ev: EventSourceMessage) {
            if (ev.data === '[DONE]') {
              done = true;
              return;
            }
            let parsed: Chunk;
            try {
              parsed = JSON.parse(ev.data) as Chunk;
            } catch {
              return;
            }
            if (parsed.error) failure = parsed.error.message ?? 'unknown error';
            const text = parsed.choices?.[0]?.delta?.content;
            if (text) queue.push(text);
          },
        });
        const decoder = new TextDecoder();
        for await (const bytes of res.body) {
          poke();
          parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
          while (queue.length) yield queue.shift() as string;
          if (failure) throw new ResponderError(`The model server reported an error: ${clip(failure)}`);
          if (done) return;
        }
      } catch (err) {
        if (err instanceof ResponderError) throw err;
        if (silent) throw new ResponderError(`The model server sent nothing for ${Math.round(idle / 1000)} s.`);
        if (signal.aborted) return;
        throw new ResponderError(`The connection to the model server broke (${(err as Error).message}).`);
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        ctl.abort(); // closes the upstream connection if it is still open
      }
    },
    async title(history: readonly Turn[], signal: AbortSignal) {
      const fallback = makeTitle(history.find((t) => t.role === 'user')?.content ?? '');
      try {
        const res = await post(
          { model: options.model, stream: false, messages: [...history, { role: 'user', content: TITLE }] },
          AbortSignal.any([signal, AbortSignal.timeout(15_000)]),
        );
        const text = ((await res.json()) as Chunk).choices?.[0]?.message?.content ?? '';
        const title = text.replace(/^["'\s]+|["'.\s]+$/g, '').slice(0, 80);
        return title || fallback;
      } catch {
        return fallback;
      }
    },
  };
}
