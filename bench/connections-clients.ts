// The four clients the connection benchmark compares, each modelled as Lambda models them: an execution
// environment's module scope is created once (`createEnvironment`, the cold start) and `invoke` is one
// invocation's handler body. Each client is used exactly as its own documentation prescribes; only the
// bench calls `release`, between workloads, which a frozen Lambda environment never gets to do.

import { createConnection, createPool, type Pool } from 'mysql2/promise';
import serverlessMysql from 'serverless-mysql';
import { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';

export type Credentials = {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
};

/** What one invocation does: a primary-key read, then (burst only) holds its connection for holdMs. */
export type Invocation = { readonly id: number; readonly holdMs: number };

export type Environment = {
  invoke(invocation: Invocation): Promise<void>;
  /** Closes whatever the environment's module scope still holds (bench cleanup only). */
  release(): Promise<void>;
};

export type ClientName = 'withConnection' | 'raw mysql2' | 'serverless-mysql' | 'mysql2 pool';

export type Client = {
  readonly name: ClientName;
  createEnvironment(credentials: Credentials): Environment;
};

export const PK_READ = 'SELECT id, label FROM items WHERE id = ?';
const HOLD = 'SELECT SLEEP(?)';
const FUNCTION_TIMEOUT_MS = 30_000;

/** The project's Config for these credentials, plus extra loadConfig variables. */
export function configFor(credentials: Credentials, settings: Readonly<Record<string, string>> = {}) {
  return loadConfig({
    DB_HOST: credentials.host,
    DB_PORT: String(credentials.port),
    DB_NAME: credentials.database,
    DB_USER: credentials.user,
    DB_PASSWORD: credentials.password,
    ...settings,
  });
}

/**
 * Ours: the config (no socket) at module scope, one connection per invocation via withConnection.
 * `settings` are extra environment variables for loadConfig (BENCH_OURS_ENV), to try other retry settings.
 */
const ours = (settings: Readonly<Record<string, string>>): Client => ({
  name: 'withConnection',
  createEnvironment(credentials) {
    const config = configFor(credentials, settings);
    return {
      async invoke({ id, holdMs }) {
        // As the API handler calls it: bounded by the invocation's remaining time.
        const deadlineMs = Date.now() + FUNCTION_TIMEOUT_MS;
        const invocation = { getRemainingTimeInMillis: () => deadlineMs - Date.now() };
        await withConnection(
          config.db,
          async (db) => {
            await db.query(PK_READ, [id]);
            if (holdMs > 0) await db.query(HOLD, [holdMs / 1000]);
          },
          { invocation },
        );
      },
      async release() {},
    };
  },
});

/** The floor for a per-invocation connection: connect, query, end, nothing else. */
const raw: Client = {
  name: 'raw mysql2',
  createEnvironment(credentials) {
    return {
      async invoke({ id, holdMs }) {
        const connection = await createConnection({ ...credentials });
        try {
          await connection.query(PK_READ, [id]);
          if (holdMs > 0) await connection.query(HOLD, [holdMs / 1000]);
        } finally {
          await connection.end();
        }
      },
      async release() {},
    };
  },
};

/** serverless-mysql as its README's "Simple Example": module-scope instance, query(), then end(). */
const slsMysql: Client = {
  name: 'serverless-mysql',
  createEnvironment(credentials) {
    // Defaults kept on purpose (connUtilization 0.8, zombie timeouts, 50 retries with full jitter).
    const mysql = serverlessMysql({ config: { ...credentials } });
    return {
      async invoke({ id, holdMs }) {
        await mysql.query(PK_READ, [id]);
        if (holdMs > 0) await mysql.query(HOLD, [holdMs / 1000]);
        await mysql.end();
      },
      async release() {
        mysql.quit();
      },
    };
  },
};

/** A module-scope mysql2 pool with its defaults: created at cold start, never ended by the handler. */
const pool: Client = {
  name: 'mysql2 pool',
  createEnvironment(credentials) {
    const modulePool = createPool({ ...credentials });
    return {
      async invoke({ id, holdMs }) {
        await modulePool.query(PK_READ, [id]);
        if (holdMs > 0) await modulePool.query(HOLD, [holdMs / 1000]);
      },
      async release() {
        await modulePool.end();
      },
    };
  },
};

export function createClients(oursSettings: Readonly<Record<string, string>> = {}): readonly Client[] {
  return [ours(oursSettings), raw, slsMysql, pool];
}

/**
 * The reference for the burst: one pool of exactly `size` connections shared by every invocation, as
 * a proxy in front of the database would hold them. Opened before timing starts.
 */
export async function openIdealPool(credentials: Credentials, size: number): Promise<Environment> {
  const shared: Pool = createPool({ ...credentials, connectionLimit: size });
  const warm = await Promise.all(Array.from({ length: size }, () => shared.getConnection()));
  for (const connection of warm) connection.release();
  return {
    async invoke({ id, holdMs }) {
      const connection = await shared.getConnection();
      try {
        await connection.query(PK_READ, [id]);
        if (holdMs > 0) await connection.query(HOLD, [holdMs / 1000]);
      } finally {
        connection.release();
      }
    },
    async release() {
      await shared.end();
    },
  };
}
