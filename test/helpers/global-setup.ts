// Finds the test database before any test runs: TEST_DB_HOST/TEST_DB_PORT when set; else
// 127.0.0.1:3306 when it answers; else the private server npm start uses (started when it is not
// running: docs/design.md#private-database-server), passed to the test workers as TEST_DB_PORT.
// Fails the whole run at once when none answers: integration tests are never skipped for a missing
// database. Also builds the console's bundled assets, which the API handler imports
// (lib/console/assets.generated.ts is gitignored).

import { createConnection } from 'mysql2/promise';
import { writeConsoleModule } from '../../scripts/build-console.js';
import { localStateDir } from '../../scripts/local-db.js';
import { serverAnswers } from '../../scripts/mariadb-server.js';
import { ensurePrivateServer } from '../../scripts/private-db.js';

export default async function setup(): Promise<void> {
  await writeConsoleModule();
  const env = process.env;
  if (env.TEST_DB_HOST === undefined && env.TEST_DB_PORT === undefined) {
    const defaultPort = Number(env.LOCAL_DEFAULT_DB_PORT ?? 3306);
    if (!(await serverAnswers('127.0.0.1', defaultPort))) {
      const server = await ensurePrivateServer(localStateDir(env));
      if (server !== undefined) {
        // The workers are forked after this and inherit the environment.
        env.TEST_DB_HOST = server.host;
        env.TEST_DB_PORT = String(server.port);
        console.log(
          `Nothing answers at 127.0.0.1:${defaultPort}: testing against the private server on ${server.host}:${server.port} (${server.state}; data in ${server.dir}).`,
        );
      }
    }
  }
  const { ADMIN_CONNECTION } = await import('./database.js');
  try {
    const connection = await createConnection({ ...ADMIN_CONNECTION, connectTimeout: 5000 });
    await connection.end();
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    throw new Error(
      `The test database does not answer at ${ADMIN_CONNECTION.host}:${ADMIN_CONNECTION.port} as ${ADMIN_CONNECTION.user} (${code}). ` +
        'Start MariaDB/MySQL, install mariadb-server so the tests can start a private one, or set TEST_DB_HOST/TEST_DB_PORT/TEST_DB_ROOT_USER/TEST_DB_ROOT_PASSWORD.',
    );
  }
}
