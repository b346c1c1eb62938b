// SQL for the counters between runs: the server's status counters and identity, the target users'
// totals in performance_schema.accounts where the server keeps them, and the monitor_counters table
// in the app's schema where the previous run's values are kept. The schema name is validated by
// loadConfig ([A-Za-z0-9_]); every value is a placeholder.

import type { RowDataPacket } from 'mysql2/promise';
import type { Db } from '../db.js';
import { AppError } from '../errors.js';
import { type CounterReading, STATUS_COUNTERS } from './counters.js';

export type StatusReading = {
  readonly serverKey: string;
  readonly uptimeSeconds: number;
  readonly maxUsedConnections: number;
  readonly counters: readonly CounterReading[];
};

export async function readStatusCounters(db: Db): Promise<StatusReading> {
  const [identity] = await db.query<RowDataPacket[]>(
    'SELECT @@GLOBAL.hostname AS host_name, @@GLOBAL.port AS port, @@GLOBAL.server_id AS server_id',
  );
  const row = identity[0];
  const serverKey = `${String(row?.host_name)}:${String(row?.port)}:${String(row?.server_id)}`;
  const [status] = await db.query<RowDataPacket[]>('SHOW GLOBAL STATUS WHERE Variable_name IN (?)', [
    [...STATUS_COUNTERS, 'Max_used_connections', 'Uptime'],
  ]);
  const values = new Map(status.map((entry) => [String(entry.Variable_name), whole(entry.Value)]));
  const uptimeSeconds = values.get('Uptime');
  if (uptimeSeconds === undefined) throw new AppError('SHOW GLOBAL STATUS returned no Uptime');
  return {
    serverKey,
    uptimeSeconds,
    maxUsedConnections: values.get('Max_used_connections') ?? 0,
    counters: STATUS_COUNTERS.flatMap((name) => {
      const value = values.get(name);
      return value === undefined ? [] : [{ name, value, serverKey, uptimeSeconds }];
    }),
  };
}

/** Connections accepted per target user since the server started (rows persist after they end). */
export async function readAccountTotals(db: Db, users: readonly string[]): Promise<Map<string, number>> {
  if (users.length === 0) return new Map();
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT USER AS user, SUM(TOTAL_CONNECTIONS) AS total FROM performance_schema.accounts
      WHERE USER IN (?) GROUP BY USER`,
    [users],
  );
  return new Map(rows.map((row) => [String(row.user), whole(row.total)]));
}

export async function readStoredCounters(db: Db, schema: string): Promise<Map<string, CounterReading>> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT counter_name, server_key, uptime_seconds, counter_value FROM \`${schema}\`.monitor_counters`,
  );
  return new Map(
    rows.map((row) => [
      String(row.counter_name),
      {
        name: String(row.counter_name),
        serverKey: String(row.server_key),
        uptimeSeconds: whole(row.uptime_seconds),
        value: whole(row.counter_value),
      },
    ]),
  );
}

export async function storeCounters(
  db: Db,
  schema: string,
  readings: readonly CounterReading[],
  readAt: Date,
): Promise<void> {
  if (readings.length === 0) return;
  // VALUES() is deprecated in MySQL 8.0.20+ but is the one upsert form both MySQL and MariaDB accept.
  await db.query(
    `INSERT INTO \`${schema}\`.monitor_counters (counter_name, server_key, uptime_seconds, counter_value, read_at)
     VALUES ?
     ON DUPLICATE KEY UPDATE server_key = VALUES(server_key), uptime_seconds = VALUES(uptime_seconds),
       counter_value = VALUES(counter_value), read_at = VALUES(read_at)`,
    [
      readings.map((reading) => [
        reading.name,
        reading.serverKey,
        reading.uptimeSeconds,
        reading.value,
        readAt,
      ]),
    ],
  );
}

function whole(value: unknown): number {
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
    throw new AppError(`Unexpected counter value from the server: ${String(value).slice(0, 20)}`);
  }
  return number;
}
