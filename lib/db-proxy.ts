// What withConnection does differently behind RDS Proxy (DB_PROXY_ENDPOINT): no statement that pins
// the session to one database connection, nothing the target group's InitQuery already did, and the
// proxy's refusals answered like the server's connection limits. See docs/design.md#rds-proxy-and-iam-authentication.

import type { ExecuteValues, FieldPacket, QueryOptions, QueryResult, QueryValues } from 'mysql2';
import type { Connection } from 'mysql2/promise';
import type { DbConfig } from './config.js';
import type { Db } from './db.js';
import { AppError, asDatabaseError, ConnectionLimitError, driverErrno } from './errors.js';

/** "Timed-out waiting to acquire database connection": the borrow outlasted ConnectionBorrowTimeout. */
export const PROXY_BORROW_TIMEOUT_ERRNO = 9501;
/**
 * The proxy answers 1040 for its own limits ("connections rate limit exceeded", "IAM authentication
 * rate limit exceeded") as the server does for max_connections: the same "try again shortly".
 */
const PROXY_REFUSAL_ERRNOS: ReadonlySet<number> = new Set([PROXY_BORROW_TIMEOUT_ERRNO, 1040]);

/** The proxy pins a session that sends a statement over 16 KB of text. */
export const PROXY_PINNING_STATEMENT_BYTES = 16 * 1024;

export function isBehindProxy(config: DbConfig): boolean {
  return config.proxy !== undefined;
}

/**
 * The connection as work sees it: as is when straight to the server; behind the proxy, `execute` runs
 * as `query` (mysql2 then escapes the values into the text client-side: one COM_QUERY, no prepare),
 * since a prepared statement pins the proxied session to one database connection for its life.
 */
export function statementsFor(connection: Connection, config: DbConfig): Db {
  if (!isBehindProxy(config)) return connection;
  function execute<T extends QueryResult>(
    sql: string | QueryOptions,
    values?: ExecuteValues,
  ): Promise<[T, FieldPacket[]]> {
    if (values !== undefined && !isQueryValues(values)) {
      // A typed parameter means nothing to query(): it would be escaped as an object, not bound.
      return Promise.reject(
        new AppError('Typed execute() parameters need a prepared statement, which pins the proxy'),
      );
    }
    return typeof sql === 'string' ? connection.query<T>(sql, values) : connection.query<T>(sql, values);
  }
  return {
    query: connection.query.bind(connection),
    execute,
    beginTransaction: connection.beginTransaction.bind(connection),
    commit: connection.commit.bind(connection),
    rollback: connection.rollback.bind(connection),
    get threadId() {
      return connection.threadId;
    },
    maxStatementBytes: PROXY_PINNING_STATEMENT_BYTES,
  };
}

/**
 * Connect-time errnos that mean "a limit, retry shortly": the server's, plus behind the proxy the same
 * refusals asProxyRefusal answers mid-work, so one list says what the proxy refuses with.
 */
export function connectLimitErrnos(config: DbConfig, serverLimits: ReadonlySet<number>): ReadonlySet<number> {
  return isBehindProxy(config) ? new Set([...serverLimits, ...PROXY_REFUSAL_ERRNOS]) : serverLimits;
}

/**
 * A proxy refusal raised by a statement (the proxy borrows a database connection per transaction, so
 * it can refuse mid-work) as a ConnectionLimitError → 503; undefined for anything else. Not retried
 * here: statements before it may have committed.
 */
export function asProxyRefusal(
  error: unknown,
  config: DbConfig,
  retryAfterSeconds: number,
): ConnectionLimitError | undefined {
  const errno = driverErrno(error);
  if (!isBehindProxy(config) || errno === undefined || !PROXY_REFUSAL_ERRNOS.has(errno)) return undefined;
  return new ConnectionLimitError(errno, 1, retryAfterSeconds, { cause: asDatabaseError(error) });
}

/** Values query() escapes exactly as execute() binds them: no TypedParameter objects anywhere inside. */
function isQueryValues(values: ExecuteValues): values is ExecuteValues & QueryValues {
  if (values === null || typeof values !== 'object') return true;
  if (values instanceof Date || values instanceof Uint8Array || values instanceof Blob) return true;
  if (Array.isArray(values)) return values.every(isQueryValues);
  if ('type' in values && 'value' in values && 'unsigned' in values) return false;
  return Object.values(values).every(isQueryValues);
}
