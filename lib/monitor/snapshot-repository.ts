// SQL that reads the server's connection state for the monitor: limits, the target users' own
// limits, and one processlist read joined with open InnoDB transactions. Reads only; kills live elsewhere.

import type { RowDataPacket } from 'mysql2/promise';
import type { Db } from '../db.js';
import { AppError, isDriverError } from '../errors.js';
import type { AccountLimit, ServerLimits, SessionRow } from './policy.js';

/** Enough of a statement to recognise it in a report; the rest could hold row values. */
export const INFO_MAX_CHARS = 100;

export type ServerState = ServerLimits & {
  readonly ownSessionId: number;
  /** The monitor's own account name, and its session's max_user_connections (its account limit if set). */
  readonly ownUser: string;
  readonly ownSessionUserLimit: number;
};

export async function readServerState(db: Db): Promise<ServerState> {
  // GLOBAL explicitly: the session value is the monitor account's own limit when it has one.
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT CONNECTION_ID() AS own_id, SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AS own_user,
            @@GLOBAL.max_connections AS max_connections,
            @@GLOBAL.max_user_connections AS max_user_connections,
            @@SESSION.max_user_connections AS own_session_user_limit`,
  );
  const row = rows[0];
  return {
    ownSessionId: wholeNumber(row?.own_id, 'CONNECTION_ID()'),
    ownUser: typeof row?.own_user === 'string' ? row.own_user : '',
    maxConnections: wholeNumber(row?.max_connections, '@@max_connections'),
    maxUserConnections: wholeNumber(row?.max_user_connections, '@@max_user_connections'),
    ownSessionUserLimit: wholeNumber(row?.own_session_user_limit, '@@SESSION.max_user_connections'),
  };
}

/** Each account of the given users with its own MAX_USER_CONNECTIONS (needs SELECT on mysql.user). */
export async function readAccountLimits(db: Db, users: readonly string[]): Promise<AccountLimit[]> {
  if (users.length === 0) return [];
  const [rows] = await db.query<RowDataPacket[]>(
    'SELECT User AS user, Host AS host, max_user_connections FROM mysql.user WHERE User IN (?)',
    [users],
  );
  return rows.map((row) => ({
    user: String(row.user),
    host: String(row.host),
    maxUserConnections: wholeNumber(row.max_user_connections, 'mysql.user.max_user_connections'),
  }));
}

const SESSION_COLUMNS = `p.ID AS id, p.USER AS user, p.HOST AS host, p.DB AS db, p.COMMAND AS command,
       p.TIME AS time_seconds, p.STATE AS state, LEFT(p.INFO, ?) AS info`;

const WITH_TRANSACTIONS = `SELECT ${SESSION_COLUMNS},
       TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS transaction_seconds
  FROM information_schema.PROCESSLIST p
  LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID
 WHERE p.ID <> CONNECTION_ID()`;

const WITHOUT_TRANSACTIONS = `SELECT ${SESSION_COLUMNS}, NULL AS transaction_seconds
  FROM information_schema.PROCESSLIST p
 WHERE p.ID <> CONNECTION_ID()`;

/** ER_SPECIFIC_ACCESS_DENIED_ERROR: INNODB_TRX without PROCESS. */
const ER_SPECIFIC_ACCESS_DENIED_ERROR = 1227;

export type SessionSnapshot = {
  readonly sessions: SessionRow[];
  /** False without PROCESS: open transactions cannot be seen (and only the login's own sessions show). */
  readonly transactionsVisible: boolean;
};

/** Every session but the monitor's own, with its open transaction's age: one processlist read. */
export async function readSessions(db: Db): Promise<SessionSnapshot> {
  try {
    return { sessions: await selectSessions(db, WITH_TRANSACTIONS), transactionsVisible: true };
  } catch (error) {
    if (!isDriverError(error) || error.errno !== ER_SPECIFIC_ACCESS_DENIED_ERROR) throw error;
    return { sessions: await selectSessions(db, WITHOUT_TRANSACTIONS), transactionsVisible: false };
  }
}

/** The same read for a few ids: re-checks kill candidates right before the kills. */
export async function readSessionsById(
  db: Db,
  ids: readonly number[],
  transactionsVisible: boolean,
): Promise<SessionRow[]> {
  if (ids.length === 0) return [];
  return selectSessions(db, transactionsVisible ? WITH_TRANSACTIONS : WITHOUT_TRANSACTIONS, ids);
}

async function selectSessions(
  db: Db,
  statement: typeof WITH_TRANSACTIONS | typeof WITHOUT_TRANSACTIONS,
  ids?: readonly number[],
): Promise<SessionRow[]> {
  const [rows] = await db.query<RowDataPacket[]>(
    ids === undefined ? statement : `${statement} AND p.ID IN (?)`,
    ids === undefined ? [INFO_MAX_CHARS] : [INFO_MAX_CHARS, ids],
  );
  return rows.map(toSessionRow);
}

function toSessionRow(row: RowDataPacket): SessionRow {
  return {
    id: wholeNumber(row.id, 'PROCESSLIST.ID'),
    user: typeof row.user === 'string' ? row.user : '',
    host: typeof row.host === 'string' ? row.host : '',
    db: typeof row.db === 'string' ? row.db : null,
    command: typeof row.command === 'string' ? row.command : '',
    timeSeconds: wholeNumber(row.time_seconds, 'PROCESSLIST.TIME'),
    state: typeof row.state === 'string' ? row.state : null,
    info: typeof row.info === 'string' ? row.info : null,
    transactionSeconds:
      row.transaction_seconds === null || row.transaction_seconds === undefined
        ? null
        : Math.max(0, wholeNumber(row.transaction_seconds, 'INNODB_TRX.trx_started')),
  };
}

function wholeNumber(value: unknown, what: string): number {
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw new AppError(`Unexpected ${what} from the server: ${String(value).slice(0, 20)}`);
  }
  return number;
}
