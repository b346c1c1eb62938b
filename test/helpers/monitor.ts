// Set-up for the monitor's integration tests: extra MySQL users (the monitor, a bystander) with
// unique names, real sessions opened as any user, and EMF lines captured from stdout.

import { randomBytes } from 'node:crypto';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { vi } from 'vitest';
import type { AuditLog } from '../../lib/monitor/kill-sessions.js';
import { ADMIN_CONNECTION, uniqueName } from './database.js';

export type TestUser = {
  readonly user: string;
  readonly password: string;
  /** Sessions this user holds right now. */
  sessionCount(): Promise<number>;
  /** Polls until the user holds `expected` sessions; returns the last count seen. */
  waitForSessions(expected: number, timeoutMs?: number): Promise<number>;
  drop(): Promise<void>;
};

/**
 * Creates a user with the given grants; each grant is a statement with `?@'%'` for the user, e.g.
 * `GRANT PROCESS ON *.* TO ?@'%'` (identifiers in them come from the tests, never from input).
 */
export async function createTestUser(
  admin: Connection,
  prefix: string,
  grants: readonly string[],
): Promise<TestUser> {
  const user = uniqueName(prefix).slice(0, 32);
  const password = randomBytes(12).toString('hex');
  await admin.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, password]);
  for (const grant of grants) await admin.query(grant, [user]);
  const sessionCount = async () => {
    const [rows] = await admin.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
      [user],
    );
    return Number(rows[0]?.n);
  };
  return {
    user,
    password,
    sessionCount,
    async waitForSessions(expected, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      let count = await sessionCount();
      while (count !== expected && Date.now() < until) {
        await sleep(25);
        count = await sessionCount();
      }
      return count;
    },
    async drop() {
      const [rows] = await admin.query<RowDataPacket[]>(
        'SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?',
        [user],
      );
      for (const row of rows) await admin.query('KILL ?', [Number(row.ID)]).catch(() => undefined);
      await admin.query(`DROP USER IF EXISTS ?@'%'`, [user]);
    },
  };
}

/** The grants docs/operations.md#database-user-for-the-monitor asks for (MariaDB), with SELECT on the test schema's import_jobs when named. */
export function monitorGrants(options: { connectionAdmin: boolean; importSchema?: string }): string[] {
  const global = options.connectionAdmin ? 'PROCESS, CONNECTION ADMIN' : 'PROCESS';
  return [
    `GRANT ${global} ON *.* TO ?@'%'`,
    `GRANT SELECT ON mysql.user TO ?@'%'`,
    ...(options.importSchema === undefined
      ? []
      : [
          `GRANT SELECT ON \`${options.importSchema}\`.import_jobs TO ?@'%'`,
          `GRANT SELECT, INSERT, UPDATE ON \`${options.importSchema}\`.monitor_counters TO ?@'%'`,
        ]),
  ];
}

/** Every session a test opens, so none outlives it (killed ones end quietly). */
export class SessionPool {
  readonly #connections: Connection[] = [];

  async open(credentials: { user: string; password: string; database?: string }): Promise<Connection> {
    const connection = await createConnection({ ...ADMIN_CONNECTION, ...credentials });
    // A session the monitor kills reports PROTOCOL_CONNECTION_LOST here; that is the point of the test.
    connection.on('error', () => undefined);
    this.#connections.push(connection);
    return connection;
  }

  async openMany(count: number, credentials: { user: string; password: string; database?: string }) {
    return Promise.all(Array.from({ length: count }, () => this.open(credentials)));
  }

  /** Kills (as `admin`) and closes every session opened, even one stuck in a long query. */
  async closeAll(admin: Connection): Promise<void> {
    const connections = this.#connections.splice(0);
    for (const connection of connections) {
      if (typeof connection.threadId === 'number') {
        await admin.query('KILL ?', [connection.threadId]).catch(() => undefined);
      }
      connection.destroy();
    }
  }
}

/** Whether the server still has a session with this id (asked as root). */
export async function sessionExists(admin: Connection, id: number): Promise<boolean> {
  const [rows] = await admin.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?',
    [id],
  );
  return Number(rows[0]?.n) === 1;
}

export function threadIdOf(connection: Connection): number {
  const id = connection.threadId;
  if (typeof id !== 'number') throw new Error('connection has no thread id');
  return id;
}

export type AuditLine = { level: 'info' | 'warn'; message: string; fields: Record<string, unknown> };

export function captureAudit(): AuditLog & { lines: AuditLine[] } {
  const lines: AuditLine[] = [];
  return {
    lines,
    info: (message, fields) => lines.push({ level: 'info', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
  };
}

/** One EMF line as CloudWatch would read it: its namespace, dimension values and metric values. */
export type EmfRecord = {
  readonly namespace: string;
  readonly dimensions: Record<string, string>;
  readonly metrics: Record<string, { value: unknown; unit: string }>;
};

/** Runs `work` while collecting the Embedded Metric Format lines written to stdout. */
export async function captureEmf<T>(
  work: () => Promise<T>,
): Promise<{ result: T | undefined; error: unknown; emf: EmfRecord[] }> {
  // Swallowed: the lines are the assertions' input, not the test run's output.
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  let result: T | undefined;
  let error: unknown;
  try {
    result = await work();
  } catch (caught) {
    error = caught;
  }
  const written = spy.mock.calls.map(([chunk]) => String(chunk));
  spy.mockRestore();
  const emf = written
    .join('')
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => toEmfRecord(JSON.parse(line)));
  return { result, error, emf };
}

function toEmfRecord(line: Record<string, unknown>): EmfRecord {
  const aws = line._aws as {
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: string }>;
    }>;
  };
  const [directive] = aws.CloudWatchMetrics;
  if (directive === undefined) throw new Error('EMF line without CloudWatchMetrics');
  const dimensions = Object.fromEntries(
    (directive.Dimensions[0] ?? []).map((name) => [name, String(line[name])]),
  );
  const metrics = Object.fromEntries(
    directive.Metrics.map((metric) => [metric.Name, { value: line[metric.Name], unit: metric.Unit }]),
  );
  return { namespace: directive.Namespace, dimensions, metrics };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Long enough for PROCESSLIST.TIME (whole seconds) to exceed a 1-second threshold. */
export const PAST_ONE_SECOND_MS = 2200;
