// Local set-up shared by `npm start`, `npm run migrate` and `npm run smoke`: local defaults, a one-line
// answer when no server is there, and the idempotent bootstrap of the local stack (database,
// migrations, an app user with a connection limit, a monitor user, an API token). Never used in Lambda.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RowDataPacket } from 'mysql2/promise';
import type { Config, Env } from '../lib/config.js';
import { loadConfig } from '../lib/config.js';
import { type Db, withConnection } from '../lib/db.js';
import { DatabaseError } from '../lib/errors.js';
import { applyMigrations, readMigrations } from '../lib/migrate.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));
export const LOCAL_CREDENTIALS_FILE = fileURLToPath(new URL('../.local/credentials.json', import.meta.url));

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
    return `The server at ${where} refused user "${config.db.user ?? ''}" (1045). Set LOCAL_ADMIN_USER and LOCAL_ADMIN_PASSWORD (npm start) or DB_USER and DB_PASSWORD (npm run migrate) to an account that can create databases and users.`;
  }
  return undefined;
}

function checkIdentifier(name: string, what: string): string {
  if (!/^[A-Za-z0-9_]{1,32}$/.test(name)) throw new Error(`${what} "${name}" must match [A-Za-z0-9_]{1,32}`);
  return name;
}

/** Creates the configured database when missing, then applies pending migrations. */
export async function prepareDatabase(config: Config): Promise<number[]> {
  const name = checkIdentifier(config.db.database, 'DB_NAME');
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

export type LocalCredentials = {
  readonly appUser: string;
  readonly appPassword: string;
  readonly monitorUser: string;
  readonly monitorPassword: string;
  readonly apiToken: string;
};

/** Reads the local stack's credentials, creating them (random) on the first start. */
export async function loadOrCreateCredentials(
  path = LOCAL_CREDENTIALS_FILE,
): Promise<{ credentials: LocalCredentials; created: boolean }> {
  try {
    return { credentials: JSON.parse(await readFile(path, 'utf8')) as LocalCredentials, created: false };
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) throw error;
  }
  const credentials: LocalCredentials = {
    appUser: 'eclectyc_app',
    appPassword: randomBytes(18).toString('base64url'),
    monitorUser: 'eclectyc_monitor',
    monitorPassword: randomBytes(18).toString('base64url'),
    apiToken: randomBytes(32).toString('hex'),
  };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  return { credentials, created: true };
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The whole local bootstrap, idempotent (a second run changes nothing): the database and its
 * migrations, the app user `WITH MAX_USER_CONNECTIONS` so the monitor has a real limit to measure, and
 * the monitor user with the grants the README documents. Runs as the admin account in `adminConfig`.
 */
export async function prepareLocalStack(
  adminConfig: Config,
  credentials: LocalCredentials,
  options: { appMaxUserConnections: number },
): Promise<void> {
  await prepareDatabase(adminConfig);
  // Another checkout (CI, a second clone) may have set other passwords on the same server.
  const appLogsIn = await canLogIn(adminConfig, credentials.appUser, credentials.appPassword);
  const monitorLogsIn = await canLogIn(adminConfig, credentials.monitorUser, credentials.monitorPassword);
  const database = checkIdentifier(adminConfig.db.database, 'DB_NAME');
  const appUser = checkIdentifier(credentials.appUser, 'app user');
  const monitorUser = checkIdentifier(credentials.monitorUser, 'monitor user');
  await withConnection(adminConfig.db, async (db) => {
    const mariadb = await isMariaDb(db);
    await ensureUser(db, appUser, credentials.appPassword, options.appMaxUserConnections, !appLogsIn);
    await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${database}\`.* TO ?@'%'`, [appUser]);
    // A small limit of its own keeps the monitor from ever becoming the problem (as the README advises).
    await ensureUser(db, monitorUser, credentials.monitorPassword, 2, !monitorLogsIn);
    // MariaDB calls it CONNECTION ADMIN, MySQL 8 CONNECTION_ADMIN: the right to KILL others' sessions.
    await db.query(`GRANT PROCESS, ${mariadb ? 'CONNECTION ADMIN' : 'CONNECTION_ADMIN'} ON *.* TO ?@'%'`, [
      monitorUser,
    ]);
    await db.query(`GRANT SELECT ON mysql.user TO ?@'%'`, [monitorUser]);
    await db.query(`GRANT SELECT ON \`${database}\`.import_jobs TO ?@'%'`, [monitorUser]);
    // Where the monitor keeps the previous run's server counters (migrations/002).
    await db.query(`GRANT SELECT, INSERT, UPDATE ON \`${database}\`.monitor_counters TO ?@'%'`, [
      monitorUser,
    ]);
  });
}

async function canLogIn(adminConfig: Config, user: string, password: string): Promise<boolean> {
  try {
    await withConnection({ ...adminConfig.db, user, password, database: '' }, async () => undefined);
    return true;
  } catch (error) {
    // 1045: wrong password; 1698: MariaDB's answer for an account that does not exist yet.
    if (error instanceof DatabaseError && (error.errno === 1045 || error.errno === 1698)) return false;
    throw error;
  }
}

async function isMariaDb(db: Db): Promise<boolean> {
  const [rows] = await db.query<RowDataPacket[]>('SELECT VERSION() AS version');
  return String(rows[0]?.version).includes('MariaDB');
}

/**
 * Creates the user, or brings its limit in line. The password is only set again when the user cannot
 * log in with it (an ALTER with the same password would still re-salt MySQL 8's hash).
 */
async function ensureUser(
  db: Db,
  user: string,
  password: string,
  maxUserConnections: number,
  resetPassword: boolean,
): Promise<void> {
  await db.query(`CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS ?`, [
    user,
    password,
    maxUserConnections,
  ]);
  if (resetPassword) await db.query(`ALTER USER ?@'%' IDENTIFIED BY ?`, [user, password]);
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT max_user_connections AS maxUserConnections FROM mysql.user WHERE User = ? AND Host = '%'`,
    [user],
  );
  if (Number(rows[0]?.maxUserConnections) !== maxUserConnections) {
    await db.query(`ALTER USER ?@'%' WITH MAX_USER_CONNECTIONS ?`, [user, maxUserConnections]);
  }
}
