// Local set-up shared by `npm start` and `npm run migrate`: the local defaults, a one-line answer
// when no server is there, creating the database, and applying migrations. Never used in Lambda.

import { fileURLToPath } from 'node:url';
import type { Config, Env } from '../lib/config.js';
import { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { DatabaseError } from '../lib/errors.js';
import { applyMigrations, readMigrations } from '../lib/migrate.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

/** The environment of a local run: the shell's, with the local server's defaults filled in. */
export function localEnv(env: Env): Env {
  return {
    DB_HOST: '127.0.0.1',
    DB_PORT: '3306',
    DB_USER: 'root',
    DB_PASSWORD: '',
    DB_NAME: 'eclectyc_dev',
    STAGE: 'local',
    ...env,
  };
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET']);

/** Turns the usual "no server / wrong login" failures into one line that says what to do. */
export function explainConnectFailure(error: unknown, config: Config): string | undefined {
  if (!(error instanceof DatabaseError)) return undefined;
  const where = `${config.db.host}:${config.db.port}`;
  if (error.code !== undefined && UNREACHABLE_CODES.has(error.code)) {
    return `No MySQL/MariaDB server answers at ${where} (${error.code}). Start it (e.g. "sudo service mariadb start" or "sudo systemctl start mysql") or point DB_HOST/DB_PORT at one.`;
  }
  if (error.errno === 1045) {
    return `The server at ${where} refused user "${config.db.user ?? ''}" (1045). Set DB_USER and DB_PASSWORD to an account that can create databases.`;
  }
  return undefined;
}

/** Creates the configured database when missing, then applies pending migrations. */
export async function prepareDatabase(config: Config): Promise<number[]> {
  const name = config.db.database;
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new Error(`DB_NAME "${name}" must match [A-Za-z0-9_]{1,64}`);
  await withConnection({ ...config.db, database: '' }, async (db) => {
    // An identifier cannot be a placeholder; the name was validated just above.
    await db.query(
      `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  });
  const migrations = await readMigrations(MIGRATIONS_DIR);
  return withConnection(config.db, (db) => applyMigrations(db, migrations));
}

export function loadLocalConfig(env: Env): Config {
  return loadConfig(localEnv(env));
}
