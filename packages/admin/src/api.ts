/**
 * The admin HTTP API as the page uses it: same origin, the login's session cookie, JSON bodies
 * (the server refuses a cookie-authenticated POST that is not application/json). A 401 means
 * the session ended: the page reloads, and the server shows the login form.
 * @module
 */
import type { AdminChannelDetail, AdminConnection, AdminSession } from '@tether/server/admin';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers = { ...init.headers, 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    location.reload();
    throw new ApiError(401, 'the session ended');
  }
  const json = (await res.json().catch(() => ({}))) as T & { error?: { message?: string } };
  if (!res.ok) throw new ApiError(res.status, json.error?.message ?? `HTTP ${res.status}`);
  return json;
}

export const session = (): Promise<AdminSession> => call('/api/admin/session');

export const channels = (): Promise<{ node: string; total: number; channels: AdminChannelDetail[] }> =>
  call('/api/admin/channels');

export const connections = (user?: string): Promise<{ node: string; connections: AdminConnection[] }> =>
  call(`/api/admin/connections${user ? `?user=${encodeURIComponent(user)}` : ''}`);

/** Closes one connection (on whichever node holds it), or every connection of `user`, refusing it for `refuseFor` ms. */
export const disconnect = (
  target: { connectionId: string } | { user: string; refuseFor?: number },
): Promise<{ disconnected: number }> => call('/api/admin/disconnect', target);

export const publish = (channel: string, data: unknown): Promise<{ offset?: number; epoch?: string }> =>
  call('/api/admin/publish', { channel, data });

export async function logout(): Promise<void> {
  await fetch('/admin/logout', { method: 'POST', credentials: 'same-origin' });
  location.assign('/admin/');
}
