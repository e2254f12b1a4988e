/**
 * Opening the database file, with a clear error when better-sqlite3's native module cannot load.
 * @module
 */
import Database from 'better-sqlite3';

/**
 * Opens the file. better-sqlite3 loads its native module on first use, so a module built for
 * another Node version, or never built, fails here: name the fix instead of a bare dlopen error.
 */
export function openDatabase(file: string, nativeBinding: string | undefined): Database.Database {
  try {
    return new Database(file, nativeBinding === undefined ? {} : { nativeBinding });
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (!/bindings|NODE_MODULE_VERSION|dlopen|\.node\b/i.test(text)) throw err;
    throw new Error(
      `@tether/sqlite: better-sqlite3's native module did not load (${text.split('\n')[0]}). ` +
        `It is built for one Node version: run \`npm rebuild better-sqlite3\` with the Node that runs the server (${process.version}).`,
      { cause: err },
    );
  }
}
