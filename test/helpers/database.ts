// Each integration test file gets its own database and its own app user (with a per-account
// connection limit), counts that user's sessions through an admin connection, and drops it all after.

import { randomBytes } from 'node:crypto';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import type { Config } from '../../lib/config.js';
import { loadConfig } from '../../lib/config.js';

export const ADMIN_CONNECTION = {
  host: process.env.TEST_DB_HOST ?? '127.0.0.1',
  port: Number(process.env.TEST_DB_PORT ?? 3306),
  user: process.env.TEST_DB_ROOT_USER ?? 'root',
  password: process.env.TEST_DB_ROOT_PASSWORD ?? '',
};

/**
 * A user's sessions that hold a slot of its connection limit. Some processlist rows do not: a refused
 * attempt (1226) shows for a moment as Connect or Busy in state "login" or "Writing to net", and a
 * session being torn down shows as Killed (e.g. "Killed/Rollback") after its slot was already given
 * back — the server lets the next login in while that row is still listed.
 */
const HELD_SESSIONS_WHERE = `USER = ? AND COMMAND <> 'Killed'
    AND NOT (COMMAND IN ('Connect', 'Busy') AND STATE IN ('login', 'Writing to net'))`;
export const HELD_SESSIONS_SQL = `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
  WHERE ${HELD_SESSIONS_WHERE}`;
/** The ids of those sessions. */
export const HELD_SESSION_IDS_SQL = `SELECT ID FROM information_schema.PROCESSLIST
  WHERE ${HELD_SESSIONS_WHERE}`;

export type TestDatabase = {
  readonly name: string;
  readonly user: string;
  readonly password: string;
  /** Root connection for set-up, assertions and session counting. */
  readonly admin: Connection;
  /** A Config for the app user, as loadConfig would build it from these variables (plus overrides). */
  config(overrides?: Record<string, string>): Config;
  /** Sessions the app user holds right now (the processlist, as the monitor sees it). */
  sessionCount(): Promise<number>;
  /** Sessions holding a slot of the user's limit (see HELD_SESSIONS_SQL). */
  heldSessionCount(): Promise<number>;
  /** Opens `count` raw sessions as the app user (to hold it at its limit); the caller ends them. */
  openAppSessions(count: number): Promise<Connection[]>;
  /** Polls until the app user holds `expected` sessions; returns the last count seen. */
  waitForSessions(expected: number, timeoutMs?: number): Promise<number>;
  drop(): Promise<void>;
};

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Where a test database lives: the shared server by default, or a disposable one. */
export type TestServer = {
  readonly host: string;
  readonly port: number;
  connectRoot(): Promise<Connection>;
  /** False for a disposable server: it goes whole, so dropping only ends the root connection. */
  readonly dropOnCleanup: boolean;
};

const SHARED_SERVER: TestServer = {
  host: ADMIN_CONNECTION.host,
  port: ADMIN_CONNECTION.port,
  connectRoot: () => createConnection({ ...ADMIN_CONNECTION, multipleStatements: false }),
  dropOnCleanup: true,
};

export async function createTestDatabase(
  options: { maxUserConnections?: number; server?: TestServer } = {},
): Promise<TestDatabase & { reconnectAdmin(): Promise<void> }> {
  const server = options.server ?? SHARED_SERVER;
  let admin = await server.connectRoot();
  const name = uniqueName('t');
  const user = uniqueName('app').slice(0, 32);
  const password = randomBytes(12).toString('hex');
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.query(`CREATE USER ?@'%' IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS ?`, [
    user,
    password,
    options.maxUserConnections ?? 20,
  ]);
  await admin.query(`GRANT ALL PRIVILEGES ON \`${name}\`.* TO ?@'%'`, [user]);

  const sessionCount = async (): Promise<number> => {
    const [rows] = await admin.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
      [user],
    );
    return Number(rows[0]?.n);
  };

  return {
    name,
    user,
    password,
    get admin() {
      return admin;
    },
    config: (overrides = {}) =>
      loadConfig({
        DB_HOST: server.host,
        DB_PORT: String(server.port),
        DB_NAME: name,
        DB_USER: user,
        DB_PASSWORD: password,
        ...overrides,
      }),
    sessionCount,
    async heldSessionCount() {
      const [rows] = await admin.query<RowDataPacket[]>(HELD_SESSIONS_SQL, [user]);
      return Number(rows[0]?.n);
    },
    openAppSessions: (count) =>
      Promise.all(
        Array.from({ length: count }, () =>
          createConnection({ host: server.host, port: server.port, user, password, database: name }),
        ),
      ),
    async waitForSessions(expected, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      let count = await sessionCount();
      while (count !== expected && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        count = await sessionCount();
      }
      return count;
    },
    /** Opens a new root connection (after a disposable server restarted, the old one is dead). */
    async reconnectAdmin() {
      await admin.end().catch(() => undefined);
      admin = await server.connectRoot();
    },
    async drop() {
      if (!server.dropOnCleanup) {
        await admin.end().catch(() => undefined);
        return;
      }
      // Kill what the user still holds so DROP USER cannot leave orphans behind a failed test.
      const [rows] = await admin.query<RowDataPacket[]>(
        'SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?',
        [user],
      );
      for (const row of rows) {
        await admin.query('KILL ?', [Number(row.ID)]).catch(() => undefined);
      }
      await admin.query(`DROP USER IF EXISTS ?@'%'`, [user]);
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    },
  };
}
