/**
 * Client states and the only transitions between them, as data.
 * @module
 */

/**
 * `idle` (never connected) → `connecting` (first attempt) → `open` (welcomed) →
 * `reconnecting` (every retry after the first attempt) → `open` … → `closed` (final).
 */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Allowed transitions. Anything else is a bug, and `setState` refuses it. */
export const TRANSITIONS: Readonly<Record<ClientState, readonly ClientState[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['open', 'reconnecting', 'closed'],
  open: ['reconnecting', 'closed'],
  reconnecting: ['open', 'closed'],
  closed: ['connecting'],
};

export function canTransition(from: ClientState, to: ClientState): boolean {
  return TRANSITIONS[from].includes(to);
}
