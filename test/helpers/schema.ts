// The project's migrations applied to a test database, as `npm run migrate` applies them.

import { fileURLToPath } from 'node:url';
import { withConnection } from '../../lib/db.js';
import { applyMigrations, readMigrations } from '../../lib/migrate.js';
import type { TestDatabase } from './database.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export async function migrate(testDb: TestDatabase): Promise<void> {
  const migrations = await readMigrations(MIGRATIONS_DIR);
  await withConnection(testDb.config().db, (db) => applyMigrations(db, migrations));
  // The server may list the ended session for a moment; the first test's "0 sessions" check must not race it.
  await testDb.waitForSessions(0);
  // The admin connection works in the test database from here on (session counting is unaffected).
  await testDb.admin.query(`USE \`${testDb.name}\``);
}
