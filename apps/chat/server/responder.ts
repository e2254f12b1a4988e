/**
 * The assistant behind a small interface: given a session's history, stream a reply as text
 * chunks and stop when the signal aborts. `echo` is the deterministic default; `openai` (in
 * `openai.ts`) speaks to any OpenAI-compatible endpoint.
 * @module
 */

export interface Turn {
  role: 'user' | 'assistant';
  content: string;
}

export interface Responder {
  /** Stored with each session, so a restart knows who was writing a reply. */
  readonly name: string;
  /**
   * True when the same history always yields the same chunks: a reply cut by a restart is then
   * finished from where it stopped instead of being marked interrupted.
   */
  readonly deterministic: boolean;
  /**
   * Streams the answer to the last user turn of `history`; stops (without throwing) once `signal`
   * aborts. `skip` (deterministic responders only) is how many chunks were delivered before a restart.
   */
  reply(history: readonly Turn[], signal: AbortSignal, skip?: number): AsyncIterable<string>;
  /** A short title for a conversation (its first exchange). */
  title(history: readonly Turn[], signal: AbortSignal): Promise<string>;
}

/** Thrown by a responder with a message a person can read; it becomes the reply's `ERROR` event. */
export class ResponderError extends Error {
  override readonly name = 'ResponderError';
}

/** A short title: the first words of the first question. */
export function makeTitle(question: string): string {
  const words = question.trim().split(/\s+/).filter(Boolean);
  const title = words.slice(0, 6).join(' ');
  return words.length > 6 ? `${title}…` : title || 'New chat';
}

/** The echo assistant's answer: deterministic, simple, and honest about being canned. */
export function replyTo(text: string): string {
  const q = text.trim();
  const words = q.split(/\s+/).filter(Boolean);
  const lower = q.toLowerCase();
  if (/^(hi|hello|hey)\b/.test(lower))
    return 'Hello! I am the **Tether demo assistant**. Ask me anything and I will stream an answer word by word.';
  if (lower === 'help' || lower.includes('what can you do'))
    return [
      'I can:',
      '',
      '- restate your question and count its words,',
      '- do simple sums such as `12 * 7`,',
      '- show how a streamed reply survives a reconnect.',
      '',
      'Try **Stop** halfway through a long answer, or ask for `long`.',
    ].join('\n');
  if (lower === 'long')
    return Array.from(
      { length: 60 },
      (_, i) => `Sentence ${i + 1} of a long answer, streamed one word at a time.`,
    ).join(' ');
  const math = /^\s*(-?\d+(?:\.\d+)?)\s*([+\-*/])\s*(-?\d+(?:\.\d+)?)\s*\??\s*$/.exec(q);
  if (math) {
    const a = Number(math[1]);
    const b = Number(math[3]);
    const r = math[2] === '+' ? a + b : math[2] === '-' ? a - b : math[2] === '*' ? a * b : a / b;
    return `${a} ${math[2]} ${b} = ${r}.`;
  }
  const kind = q.endsWith('?') ? 'a question' : 'a statement';
  const head = words.slice(0, 12).join(' ');
  return `You wrote ${kind} of ${words.length} ${words.length === 1 ? 'word' : 'words'} and ${q.length} characters: "${head}${words.length > 12 ? ' …' : ''}". I am the echo assistant, with no language model, so I can only restate it. Each word of this answer is one publication on the session's channel.`;
}

/** Splits a reply into chunks that concatenate back to it exactly: each word with its leading space. */
export function chunks(reply: string): string[] {
  return reply.split(/(?= )/);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** The deterministic assistant: answers the last question word by word, `delay` ms apart. */
export function echoResponder(delay = 40): Responder {
  return {
    name: 'echo',
    deterministic: true,
    async *reply(history, signal, skip = 0) {
      const last = [...history].reverse().find((t) => t.role === 'user');
      for (const part of chunks(replyTo(last?.content ?? '')).slice(skip)) {
        await pause(delay, signal);
        if (signal.aborted) return;
        yield part;
      }
    },
    async title(history) {
      return makeTitle(history.find((t) => t.role === 'user')?.content ?? '');
    },
  };
}
