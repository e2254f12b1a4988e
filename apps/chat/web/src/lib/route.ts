/** The open view lives in the URL hash (`#/room/lobby`, `#/chat/<id>`), so a reload comes back to it. */
import { ref } from 'vue';

export type Route = { kind: 'room'; name: string } | { kind: 'chat'; id: string };

function parse(hash: string): Route {
  const [, kind, value] = /^#\/(room|chat)\/([^/]+)$/.exec(hash) ?? [];
  if (kind === 'chat' && value) return { kind: 'chat', id: decodeURIComponent(value) };
  if (kind === 'room' && value) return { kind: 'room', name: decodeURIComponent(value) };
  return { kind: 'room', name: 'lobby' };
}

export const route = ref<Route>(parse(location.hash));
window.addEventListener('hashchange', () => {
  route.value = parse(location.hash);
});

export function go(to: Route): void {
  location.hash = to.kind === 'room' ? `#/room/${encodeURIComponent(to.name)}` : `#/chat/${encodeURIComponent(to.id)}`;
  route.value = to;
}
