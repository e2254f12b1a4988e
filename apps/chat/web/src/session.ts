/** Who is logged in (kept for the tab's life) and how a token is obtained: the server's dev login. */
import { ref } from 'vue';

const KEY = 'tether-chat-user';

export const userName = ref<string>(sessionStorage.getItem(KEY) ?? '');

export function setUser(name: string): void {
  userName.value = name;
  if (name) sessionStorage.setItem(KEY, name);
  else sessionStorage.removeItem(KEY);
}

/** A fresh token for the current user; called by the client on every (re)connect. */
export async function fetchToken(): Promise<string> {
  const res = await fetch('/api/dev/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: userName.value, info: { name: userName.value } }),
  });
  if (!res.ok) throw new Error(`login failed: HTTP ${res.status}`);
  const body = (await res.json()) as { token?: unknown };
  if (typeof body.token !== 'string') throw new Error('login failed: no token in the answer');
  return body.token;
}
