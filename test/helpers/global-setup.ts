// Fails the whole run at once when the test MariaDB/MySQL does not answer: integration tests are
// never skipped for a missing database. Also builds the console's bundled assets, which the API
// handler imports (lib/console/assets.generated.ts is gitignored).

import { createConnection } from 'mysql2/promise';
import { writeConsoleModule } from '../../scripts/build-console.js';
import { ADMIN_CONNECTION } from './database.js';

export default async function setup(): Promise<void> {
  await writeConsoleModule();
  try {
    const connection = await createConnection({ ...ADMIN_CONNECTION, connectTimeout: 5000 });
    await connection.end();
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    throw new Error(
      `The test database does not answer at ${ADMIN_CONNECTION.host}:${ADMIN_CONNECTION.port} as ${ADMIN_CONNECTION.user} (${code}). ` +
        'Start MariaDB/MySQL (see .ci/run) or set TEST_DB_HOST/TEST_DB_PORT/TEST_DB_ROOT_USER/TEST_DB_ROOT_PASSWORD.',
    );
  }
}
