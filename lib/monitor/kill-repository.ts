// SQL that ends other sessions (KILL CONNECTION) or stops their statement (KILL QUERY ID on MariaDB,
// KILL QUERY elsewhere), and Amazon RDS's mysql.rds_kill / mysql.rds_kill_query where KILL is denied.
// Every id is checked to be a positive safe integer before it reaches the server.

import type { RowDataPacket } from 'mysql2/promise';
import type { Db } from '../db.js';
import { AppError } from '../errors.js';

/** ER_NO_SUCH_THREAD: the session ended before the kill reached it. */
export const ER_NO_SUCH_THREAD = 1094;
/** ER_KILL_DENIED_ERROR: the monitor lacks CONNECTION ADMIN / CONNECTION_ADMIN / SUPER. */
export const ER_KILL_DENIED_ERROR = 1095;
/** ER_NO_SUCH_QUERY (MariaDB): KILL QUERY ID named a statement that has already ended. */
export const ER_NO_SUCH_QUERY = 1957;

export function validSessionId(id: unknown): number {
  return validId(id, 'session');
}

function validId(id: unknown, what: 'session' | 'query'): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
    throw new AppError(`Refusing to kill ${what} id ${String(id).slice(0, 30)}: not a positive integer`);
  }
  return id;
}

export async function killConnection(db: Db, id: number): Promise<void> {
  await db.query('KILL CONNECTION ?', [validSessionId(id)]);
}

/**
 * Stops the session's running statement, whichever it is by then; the session itself stays
 * connected. Where the processlist has QUERY_ID (MariaDB), killQueryById is used instead.
 */
export async function killQuery(db: Db, id: number): Promise<void> {
  await db.query('KILL QUERY ?', [validSessionId(id)]);
}

/**
 * Stops one statement by its MariaDB query id (the processlist's QUERY_ID): if the session has moved
 * on to another statement meanwhile, that one is left alone and the server answers 1957.
 */
export async function killQueryById(db: Db, queryId: number): Promise<void> {
  await db.query('KILL QUERY ID ?', [validId(queryId, 'query')]);
}

/** True where Amazon RDS's procedures exist (RDS for MySQL/MariaDB, whose master user cannot KILL). */
export async function rdsKillExists(db: Db): Promise<boolean> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM information_schema.ROUTINES
      WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_NAME = 'rds_kill' AND ROUTINE_TYPE = 'PROCEDURE'`,
  );
  return Number(rows[0]?.n) > 0;
}

export async function rdsKill(db: Db, id: number): Promise<void> {
  await db.query('CALL mysql.rds_kill(?)', [validSessionId(id)]);
}

export async function rdsKillQuery(db: Db, id: number): Promise<void> {
  await db.query('CALL mysql.rds_kill_query(?)', [validSessionId(id)]);
}
