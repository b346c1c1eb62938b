// SQL that reads the server's connection state for the monitor: limits, the target users' own
// limits, and one processlist read (performance_schema on MySQL 8.0.22+, else information_schema)
// joined with open InnoDB transactions and program_name. Reads only; kills live elsewhere.

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
  /** @@performance_schema: connect attributes (program_name) and MySQL 8's processlist table need it. */
  readonly performanceSchema: boolean;
  /** performance_schema.processlist exists (MySQL 8.0.22+; not MariaDB) and the monitor can see it. */
  readonly performanceSchemaProcesslist: boolean;
  /** information_schema.PROCESSLIST has QUERY_ID (MariaDB): runaway statements are stopped by it. */
  readonly processlistQueryIds?: boolean;
};

export async function readServerState(db: Db): Promise<ServerState> {
  // GLOBAL explicitly: the session value is the monitor account's own limit when it has one.
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT CONNECTION_ID() AS own_id, SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AS own_user,
            @@GLOBAL.max_connections AS max_connections,
            @@GLOBAL.max_user_connections AS max_user_connections,
            @@SESSION.max_user_connections AS own_session_user_limit,
            @@GLOBAL.performance_schema AS performance_schema,
            (SELECT COUNT(*) FROM information_schema.TABLES
              WHERE TABLE_SCHEMA = 'performance_schema' AND TABLE_NAME = 'processlist') AS ps_processlist,
            (SELECT COUNT(*) FROM information_schema.COLUMNS
              WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'PROCESSLIST'
                AND COLUMN_NAME = 'QUERY_ID') AS processlist_query_ids`,
  );
  const row = rows[0];
  const performanceSchema = Number(row?.performance_schema) === 1;
  return {
    ownSessionId: wholeNumber(row?.own_id, 'CONNECTION_ID()'),
    ownUser: typeof row?.own_user === 'string' ? row.own_user : '',
    maxConnections: wholeNumber(row?.max_connections, '@@max_connections'),
    maxUserConnections: wholeNumber(row?.max_user_connections, '@@max_user_connections'),
    ownSessionUserLimit: wholeNumber(row?.own_session_user_limit, '@@SESSION.max_user_connections'),
    performanceSchema,
    performanceSchemaProcesslist: performanceSchema && Number(row?.ps_processlist) > 0,
    processlistQueryIds: Number(row?.processlist_query_ids) > 0,
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

/** Where sessions are read from: MySQL 8.0.22+ deprecates information_schema.PROCESSLIST. */
export type SessionSource = 'performance_schema' | 'information_schema';

/** How one run reads sessions, narrowed by what the server offers and the monitor's grants allow. */
export type SessionReadPlan = {
  readonly source: SessionSource;
  /** Joined with information_schema.INNODB_TRX (needs PROCESS). */
  readonly transactions: boolean;
  /** Joined with performance_schema.session_connect_attrs for program_name. */
  readonly connectAttributes: boolean;
  /** Reads QUERY_ID (MariaDB's information_schema.PROCESSLIST only). */
  readonly queryIds?: boolean;
};

const PROCESSLIST_TABLES: Readonly<Record<SessionSource, string>> = {
  performance_schema: 'performance_schema.processlist',
  information_schema: 'information_schema.PROCESSLIST',
};

/** Every fragment is a constant: the plan picks among them, nothing else reaches the text. */
export function sessionsSql(plan: SessionReadPlan): string {
  return `SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.DB AS db, p.COMMAND AS command,
       p.TIME AS time_seconds, p.STATE AS state, LEFT(p.INFO, ?) AS info,
       ${plan.transactions ? 'TIMESTAMPDIFF(SECOND, t.trx_started, NOW())' : 'NULL'} AS transaction_seconds,
       ${plan.connectAttributes ? 'a.ATTR_VALUE' : 'NULL'} AS program_name${plan.queryIds === true ? ', p.QUERY_ID AS query_id' : ''}
  FROM ${PROCESSLIST_TABLES[plan.source]} p
  ${plan.transactions ? 'LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID' : ''}
  ${
    plan.connectAttributes
      ? "LEFT JOIN performance_schema.session_connect_attrs a ON a.PROCESSLIST_ID = p.ID AND a.ATTR_NAME = 'program_name'"
      : ''
  }
 WHERE p.ID <> CONNECTION_ID()`;
}

/** ER_SPECIFIC_ACCESS_DENIED_ERROR: INNODB_TRX without PROCESS. */
const ER_SPECIFIC_ACCESS_DENIED_ERROR = 1227;
/** ER_TABLEACCESS_DENIED_ERROR: a performance_schema table the monitor may not read. */
const ER_TABLEACCESS_DENIED_ERROR = 1142;

export type SessionSnapshot = {
  readonly sessions: SessionRow[];
  /** False without PROCESS: open transactions cannot be seen (and only the login's own sessions show). */
  readonly transactionsVisible: boolean;
  /** False without performance_schema (MariaDB's default) or a grant on it: program_name is unknown. */
  readonly programNamesVisible: boolean;
  readonly plan: SessionReadPlan;
};

/** The richest read the server and the grants allow. */
export function initialReadPlan(server: ServerState): SessionReadPlan {
  const source = server.performanceSchemaProcesslist ? 'performance_schema' : 'information_schema';
  return {
    source,
    transactions: true,
    connectAttributes: server.performanceSchema,
    ...(server.processlistQueryIds === true && source === 'information_schema' ? { queryIds: true } : {}),
  };
}

/** The next plan after a refusal, or null when nothing is left to drop. */
export function narrowedPlan(plan: SessionReadPlan, errno: number | undefined): SessionReadPlan | null {
  if (errno === ER_SPECIFIC_ACCESS_DENIED_ERROR && plan.transactions) return { ...plan, transactions: false };
  if (errno === ER_TABLEACCESS_DENIED_ERROR && plan.connectAttributes) {
    return { ...plan, connectAttributes: false };
  }
  if (errno === ER_TABLEACCESS_DENIED_ERROR && plan.source === 'performance_schema') {
    return { ...plan, source: 'information_schema' };
  }
  return null;
}

/** Every session but the monitor's own, with its open transaction's age: one processlist read. */
export async function readSessions(db: Db, server: ServerState): Promise<SessionSnapshot> {
  let plan = initialReadPlan(server);
  for (;;) {
    try {
      const sessions = await selectSessions(db, plan);
      return {
        sessions,
        transactionsVisible: plan.transactions,
        programNamesVisible: plan.connectAttributes,
        plan,
      };
    } catch (error) {
      const next = isDriverError(error) ? narrowedPlan(plan, error.errno) : null;
      if (next === null) throw error;
      plan = next;
    }
  }
}

/** The same read for a few ids: re-checks kill candidates right before the kills. */
export async function readSessionsById(
  db: Db,
  ids: readonly number[],
  plan: SessionReadPlan,
): Promise<SessionRow[]> {
  if (ids.length === 0) return [];
  return selectSessions(db, plan, ids);
}

async function selectSessions(db: Db, plan: SessionReadPlan, ids?: readonly number[]): Promise<SessionRow[]> {
  const statement = sessionsSql(plan);
  const [rows] = await db.query<RowDataPacket[]>(
    ids === undefined ? statement : `${statement} AND p.ID IN (?)`,
    ids === undefined ? [INFO_MAX_CHARS] : [INFO_MAX_CHARS, ids],
  );
  return rows.map(toSessionRow);
}

/** One processlist row as mysql2 returns it (either source), as the policy reads it. */
export function toSessionRow(row: Record<string, unknown>): SessionRow {
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
    programName: typeof row.program_name === 'string' ? row.program_name : null,
    ...(row.query_id === undefined || row.query_id === null
      ? {}
      : { queryId: wholeNumber(row.query_id, 'PROCESSLIST.QUERY_ID') }),
  };
}

function wholeNumber(value: unknown, what: string): number {
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw new AppError(`Unexpected ${what} from the server: ${String(value).slice(0, 20)}`);
  }
  return number;
}
