// The settings `npm run monitor` runs with: those the shell gives for a deployed database, or, when it
// gives none of them, the local stack's (its database, and the monitor and app users from
// .local/credentials.json, as `npm run smoke` reads them). A partial set fails naming the whole set.

import type { Env } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { readCredentials, resolveLocalDatabase } from './local-db.js';

/** Any of these set means "a deployed (or otherwise chosen) database", not the local stack. */
const CHOOSING_SETTINGS = ['DB_NAME', 'DB_SECRET_ID', 'DB_USER', 'MONITOR_DB_SECRET_ID', 'MONITOR_DB_USER'];

export const MONITOR_SETTINGS = `DB_NAME, and a login: MONITOR_DB_SECRET_ID, or MONITOR_DB_USER and MONITOR_DB_PASSWORD (else the app's DB_SECRET_ID, or DB_USER and DB_PASSWORD); DB_HOST and DB_PORT unless the secret holds them; optional DB_TLS, MONITOR_TARGET_USERS`;

function isBlank(value: string | undefined): boolean {
  return value === undefined || value.trim() === '';
}

export async function monitorEnv(env: Env): Promise<Env> {
  if (CHOOSING_SETTINGS.every((name) => isBlank(env[name]))) {
    const local = await resolveLocalDatabase(env, { startPrivate: false });
    let credentials: Awaited<ReturnType<typeof readCredentials>>;
    try {
      credentials = await readCredentials(env);
    } catch (error) {
      throw new ConfigError(
        'settings',
        `none given, and no local stack (${error instanceof Error ? error.message : String(error)}). For a deployed database set ${MONITOR_SETTINGS}.`,
      );
    }
    return {
      ...local.env,
      DB_USER: credentials.appUser,
      DB_PASSWORD: credentials.appPassword,
      MONITOR_DB_USER: credentials.monitorUser,
      MONITOR_DB_PASSWORD: credentials.monitorPassword,
      MONITOR_TARGET_USERS: env.MONITOR_TARGET_USERS ?? credentials.appUser,
    };
  }
  const missing: string[] = [];
  if (isBlank(env.DB_NAME)) missing.push('DB_NAME');
  const loginGiven = ['MONITOR_DB_SECRET_ID', 'MONITOR_DB_USER', 'DB_SECRET_ID', 'DB_USER'].some(
    (name) => !isBlank(env[name]),
  );
  if (!loginGiven) missing.push('a login');
  if (missing.length > 0) {
    throw new ConfigError(
      missing.join(', '),
      `missing. npm run monitor needs ${MONITOR_SETTINGS}. With none of DB_NAME, DB_SECRET_ID, DB_USER, MONITOR_DB_SECRET_ID, MONITOR_DB_USER set it runs against the local stack (npm start).`,
    );
  }
  return env;
}
