// `npm run migrate`: applies pending migrations to DB_NAME (creating it when missing) with the
// credentials in the environment (DB_USER/DB_PASSWORD or DB_SECRET_ID); local defaults otherwise.

import { loadConfig } from '../lib/config.js';
import { explainConnectFailure, prepareDatabase, resolveLocalDatabase } from './local-db.js';

const config = loadConfig((await resolveLocalDatabase(process.env, { startPrivate: false })).env);
try {
  const applied = await prepareDatabase(config);
  console.log(
    applied.length === 0
      ? `Database ${config.db.database} is up to date.`
      : `Applied migrations ${applied.join(', ')} to ${config.db.database}.`,
  );
} catch (error) {
  const explained = explainConnectFailure(error, config);
  if (explained === undefined) throw error;
  console.error(explained);
  process.exitCode = 1;
}
