// Local set-up shared by `npm start`, `npm run migrate`, `smoke`, `monitor`, `process` and `reset`: local
// defaults, where the local database is (the default host and port, else the private server), a
// one-line answer when no server is there, and the idempotent bootstrap of the local stack (database,
// migrations, an app user with a connection limit, a monitor user, an API token). Never used in Lambda.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RowDataPacket } from 'mysql2/promise';
import type { Config, Env } from '../lib/config.js';
import { loadConfig } from '../lib/config.js';
import { type Db, withConnection } from '../lib/db.js';
import { DatabaseError } from '../lib/errors.js';
import { applyMigrations, readMigrations } from '../lib/migrate.js';
import { serverAnswers } from './mariadb-server.js';
import { ensurePrivateServer, type PrivateServer, runningPrivateServer } from './private-db.js';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));
/** The local app user's connection limit when LOCAL_APP_MAX_USER_CONNECTIONS is not set. */
export const DEFAULT_APP_MAX_USER_CONNECTIONS = 20;

/** Where the local stack keeps its state: credentials, the private server, its build (`.local/`). */
export function localStateDir(env: Env): string {
  return resolve(REPO_ROOT, env.LOCAL_STATE_DIR ?? '.local');
}

export function credentialsFile(env: Env): string {
  return join(localStateDir(env), 'credentials.json');
}

/** The local stack's ports: the API (HTTP_PORT, 3000) and serverless-offline's Lambda endpoint (LAMBDA_PORT, 3002). */
export function localPorts(env: Env): { http: number; lambda: number } {
  return { http: Number(env.HTTP_PORT ?? 3000), lambda: Number(env.LAMBDA_PORT ?? 3002) };
}

/**
 * The environment of a local run: the shell's, with the local server's defaults filled in.
 * LOCAL_DEFAULT_DB_PORT moves the default port (the tests use it to play "nothing listens on 3306").
 */
export function localEnv(env: Env): Env {
  return {
    DB_HOST: '127.0.0.1',
    DB_PORT: env.LOCAL_DEFAULT_DB_PORT ?? '3306',
    DB_USER: 'root',
    DB_PASSWORD: '',
    DB_NAME: 'eclectyc_dev',
    STAGE: 'local',
    ...env,
  };
}

export type LocalDatabase = {
  /** `env` with DB_HOST and DB_PORT pointing at the server to use. */
  readonly env: Env;
  /** One line saying which server this is and why. */
  readonly where: string;
  readonly privateServer?: PrivateServer;
};

/**
 * Which server the local stack uses: DB_HOST/DB_PORT when the user set either; else the private
 * server under the state dir when it runs; else the default (127.0.0.1:3306) when something answers
 * there; else the private server, which `startPrivate` starts (or creates). Without a server binary, or without
 * `startPrivate`, the default is returned and the connect fails with explainConnectFailure's line.
 * See docs/design.md#private-database-server.
 */
export async function resolveLocalDatabase(
  shellEnv: Env,
  options: { startPrivate: boolean },
): Promise<LocalDatabase> {
  const env = localEnv(shellEnv);
  const where = `${env.DB_HOST}:${env.DB_PORT}`;
  if (!isBlank(shellEnv.DB_HOST) || !isBlank(shellEnv.DB_PORT)) {
    return { env, where: `${where} (from DB_HOST/DB_PORT)` };
  }
  // A running private server wins, so every command keeps using the server the stack started on.
  const stateDir = localStateDir(shellEnv);
  let server = await runningPrivateServer(stateDir);
  if (server === undefined) {
    if (await serverAnswers(String(env.DB_HOST), Number(env.DB_PORT))) return { env, where };
    if (options.startPrivate) server = await ensurePrivateServer(stateDir);
  }
  if (server === undefined) return { env, where };
  const verb = { created: 'created and started', started: 'started', running: 'already running' }[
    server.state
  ];
  return {
    env: { ...env, DB_HOST: server.host, DB_PORT: String(server.port) },
    where: `${server.host}:${server.port}, the private server (${verb}; data in ${server.dir}; npm run db:stop stops it)`,
    privateServer: server,
  };
}

/** The account that may create databases and users: LOCAL_ADMIN_USER/LOCAL_ADMIN_PASSWORD, else root. */
export function localAdminConfig(env: Env): Config {
  return loadConfig({
    ...env,
    DB_USER: env.LOCAL_ADMIN_USER ?? 'root',
    DB_PASSWORD: env.LOCAL_ADMIN_PASSWORD ?? '',
  });
}

function isBlank(value: string | undefined): boolean {
  return value === undefined || value.trim() === '';
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET']);

/** Turns the usual "no server / wrong login" failures into one line that says what to do. */
export function explainConnectFailure(error: unknown, config: Config): string | undefined {
  if (!(error instanceof DatabaseError)) return undefined;
  const where = `${config.db.host}:${config.db.port}`;
  if (error.code !== undefined && UNREACHABLE_CODES.has(error.code)) {
    return `No MySQL/MariaDB server answers at ${where} (${error.code}). Start one there, or install MariaDB (e.g. "sudo apt-get install mariadb-server") so npm start can run a private one, or point DB_HOST/DB_PORT at a running server.`;
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

export type LocalCredentials = {
  readonly appUser: string;
  readonly appPassword: string;
  readonly monitorUser: string;
  readonly monitorPassword: string;
  readonly apiToken: string;
};

/** The local stack's credentials, or a one-line error saying to run npm start first. */
export async function readCredentials(env: Env): Promise<LocalCredentials> {
  const path = credentialsFile(env);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LocalCredentials;
  } catch {
    throw new Error(`No local credentials at ${path}: run npm start first.`);
  }
}

/** Reads the local stack's credentials, creating them (random) on the first start. */
export async function loadOrCreateCredentials(
  path: string,
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
 * the monitor user with the grants docs/operations.md#database-user-for-the-monitor documents. Runs as the admin account in `adminConfig`.
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
    // A small limit of its own: see docs/design.md#the-monitors-own-login.
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
