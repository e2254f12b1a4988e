/**
 * The SQLite broker moved to `@tether/sqlite`; this file only re-exports it while the server's
 * own modules move their imports. Import from `@tether/sqlite` instead.
 * @deprecated
 * @module
 */
export { createSqliteBroker, type SqliteBrokerOptions, sqliteBroker } from '@tether/sqlite';
