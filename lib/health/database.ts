// The database check of GET /api/health: one round trip, timed, that also reads how many sessions the
// app user holds against the limit it runs into first. The app user needs no PROCESS grant for that:
// without it a user sees its own sessions only, and the session value of max_user_connections is its
// account's own MAX_USER_CONNECTIONS when it has one (else the global value), on MariaDB and MySQL
// alike. Takes the connection it is given; opening and ending it is withConnection's job.

import type { RowDataPacket } from 'mysql2/promise';
import type { Db } from '../db.js';
import { effectiveLimit, type UsageLevel, type UsageThresholds, usageLevel } from '../monitor/policy.js';

export type ConnectionUsage = {
  /** The usage level by the monitor's thresholds (USAGE_CAUTION_PERCENT, USAGE_WARNING_PERCENT). */
  readonly status: UsageLevel;
  /** The app user's sessions, this one included. */
  readonly in_use: number;
  readonly limit: number;
  readonly usage_percent: number;
};

export type DatabaseCheck = {
  readonly status: 'up';
  readonly roundTripMs: number;
  readonly connections: ConnectionUsage;
};

const USAGE_SQL = `SELECT @@session.max_user_connections AS user_limit, @@global.max_connections AS max_connections,
  (SELECT COUNT(*) FROM information_schema.PROCESSLIST
    WHERE USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)) AS in_use`;

export async function checkDatabase(
  db: Db,
  thresholds: UsageThresholds,
  nowMs: () => number = () => performance.now(),
): Promise<DatabaseCheck> {
  const startedMs = nowMs();
  const [rows] = await db.query<RowDataPacket[]>(USAGE_SQL);
  const roundTripMs = Math.round((nowMs() - startedMs) * 100) / 100;
  const row = rows[0];
  if (row === undefined) throw new Error('the usage query returned no row');
  const limit = effectiveLimit(
    { maxConnections: Number(row.max_connections), maxUserConnections: Number(row.user_limit) },
    0,
  );
  const inUse = Number(row.in_use);
  const usagePercent = limit > 0 ? (inUse / limit) * 100 : 0;
  return {
    status: 'up',
    roundTripMs,
    connections: {
      status: usageLevel(usagePercent, thresholds),
      in_use: inUse,
      limit,
      usage_percent: Math.round(usagePercent * 10) / 10,
    },
  };
}
