/**
 * Where the admin page comes from: `@tether/admin`'s built `dist` (an optional package, found by
 * name like `@tether/sqlite`), or a folder the options name; and the login form shown instead of
 * it to anyone without a session.
 * @module
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/** The folder of the built page; throws a TypeError naming the package or the build step when missing. */
export function pageDir(folder: string | undefined): string {
  let dir: string;
  if (folder !== undefined) dir = resolve(folder);
  else {
    let pkg: string;
    try {
      pkg = createRequire(import.meta.url).resolve('@tether/admin/package.json');
    } catch (err) {
      throw new TypeError(
        'admin: the admin page needs @tether/admin: npm install @tether/admin (or admin.page: false)',
        {
          cause: err,
        },
      );
    }
    dir = join(dirname(pkg), 'dist');
  }
  if (!existsSync(join(dir, 'index.html')))
    throw new TypeError(
      folder !== undefined
        ? `admin.page: no index.html in ${dir}`
        : `admin: @tether/admin has no built page in ${dir}: npm run build -w @tether/admin`,
    );
  return dir;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The login form (no script): an API key, or a token with `admin: true`. */
export function loginPage(message?: string): string {
  const note = message ? `<p class="err" role="alert">${escapeHtml(message)}</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Tether admin · log in</title>
<style>
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#0f1419;color:#e6e1cf;font:15px/1.45 system-ui,sans-serif}
form{background:#171d24;border:1px solid #2a323c;border-radius:10px;padding:28px 32px;width:min(360px,88vw)}
h1{font-size:18px;margin:0 0 4px}p{margin:0 0 18px;color:#8b949e;font-size:13px}
label{display:block;font-size:13px;margin-bottom:6px;color:#c9d1d9}
input{box-sizing:border-box;width:100%;padding:9px 10px;border-radius:6px;border:1px solid #2a323c;background:#0f1419;color:inherit;font:inherit}
button{margin-top:16px;width:100%;padding:9px;border:0;border-radius:6px;background:#3fb68b;color:#0f1419;font-weight:600;font-size:14px;cursor:pointer}
.err{color:#f07178;margin:12px 0 0}
</style></head><body>
<form method="post" action="/admin/login">
<h1>Tether admin</h1><p>Operators only. Use the server's API key, or a token with <code>admin: true</code>.</p>
<label for="key">API key or admin token</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus data-testid="admin-key">
<button type="submit" data-testid="admin-login">Log in</button>${note}
</form></body></html>`;
}
