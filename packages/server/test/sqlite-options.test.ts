import type { SqliteBrokerOptions } from '@tether/server';
import type { SqliteBrokerOptions as FromSqlite } from '@tether/sqlite';
import { expectTypeOf, it } from 'vitest';

// The server repeats the options of @tether/sqlite so its published types need no optional
// package; `npm run typecheck` fails here as soon as the two differ.
it('the server states the same SqliteBrokerOptions as @tether/sqlite', () => {
  expectTypeOf<SqliteBrokerOptions>().toEqualTypeOf<FromSqlite>();
});
