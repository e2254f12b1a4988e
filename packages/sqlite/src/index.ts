/**
 * `@tether/sqlite`: the SQLite broker for one Tether node whose history and idempotency keys must
 * survive a restart.
 * @module
 */
export { createSqliteBroker, type SqliteBrokerOptions, sqliteBroker } from './sqlite-broker.js';
