// The project's error tree. Every class wraps what it caught in `cause`, never in its message, and
// HTTP-facing errors carry the status the one error mapper (lib/http.ts) answers with.

export class AppError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Configuration is missing or malformed; thrown at cold start so a bad deploy fails loudly. */
export class ConfigError extends AppError {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** A caller's mistake: shown to the caller as is, with a status below 500. */
export class HttpError extends AppError {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details?: unknown,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/**
 * The database refused a connection because a limit was reached (1040, 1203, 1226) and retrying
 * within the invocation's remaining time did not help. HTTP answers 503 with Retry-After.
 */
export class ConnectionLimitError extends AppError {
  constructor(
    readonly errno: number,
    readonly attempts: number,
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(`Database connection limit reached (errno ${errno}) after ${attempts} attempt(s)`, options);
  }
}

/** The invocation ran out of time while holding a connection; the connection was destroyed. */
export class DeadlineExceededError extends AppError {
  constructor(readonly budgetMs: number) {
    super(`Invocation deadline reached after ${budgetMs} ms; the connection was destroyed`);
  }
}

/**
 * A mysql2 error with its `code`, `errno` and `sqlState` kept and its SQL text dropped (the text may
 * hold row values or credentials).
 */
export class DatabaseError extends AppError {
  readonly code: string | undefined;
  readonly errno: number | undefined;
  readonly sqlState: string | undefined;
  readonly fatal: boolean;

  constructor(message: string, fields: DriverErrorFields, options?: { cause?: unknown }) {
    super(message, options);
    this.code = fields.code;
    this.errno = fields.errno;
    this.sqlState = fields.sqlState;
    this.fatal = fields.fatal === true;
  }
}

export type DriverErrorFields = {
  code?: string | undefined;
  errno?: number | undefined;
  sqlState?: string | undefined;
  sqlMessage?: string | undefined;
  fatal?: boolean | undefined;
  sql?: string | undefined;
};

/**
 * True for errors raised by mysql2 (server errors and its own protocol/network errors). mysql2 names
 * `code` only for errnos in its own table; a server error it has no name for (MariaDB's 1969
 * max_statement_time kill) arrives with `code` undefined but a numeric `errno` and a `sqlMessage`.
 */
export function isDriverError(error: unknown): error is Error & DriverErrorFields {
  if (!(error instanceof Error) || error instanceof AppError) return false;
  const fields = error as DriverErrorFields;
  return (
    typeof fields.code === 'string' ||
    (typeof fields.errno === 'number' && typeof fields.sqlMessage === 'string')
  );
}

/**
 * The connection is unusable after this error: lost, killed, the server gone, or already closed.
 * mysql2 marks all of these `fatal`, but its "Can't add new command when connection is in closed
 * state" carries no code, so isDriverError alone misses it. DatabaseError keeps the flag.
 */
export function isConnectionGone(error: unknown): boolean {
  return error instanceof Error && (error as { fatal?: unknown }).fatal === true;
}

/** The server's error number of a mysql2 error (1226, 1213 …); undefined for anything else. */
export function driverErrno(error: unknown): number | undefined {
  return isDriverError(error) ? error.errno : undefined;
}

/** Re-raise a mysql2 error as a DatabaseError whose cause no longer carries the SQL text. */
export function toDatabaseError(error: Error & DriverErrorFields): DatabaseError {
  const { code, errno, sqlState, fatal } = error;
  const message = error.sqlMessage ?? error.message;
  // The driver attaches the statement (values interpolated) as `sql`; keep it out of logs and causes.
  delete error.sql;
  return new DatabaseError(message, { code, errno, sqlState, fatal }, { cause: error });
}

/**
 * What withConnection rethrows: a mysql2 error as a DatabaseError, including mysql2's codeless
 * "closed state" error for a statement sent after the server had closed the connection, which is
 * the same loss as PROTOCOL_CONNECTION_LOST; any other error as it is.
 */
export function asDatabaseError(error: unknown): unknown {
  if (isDriverError(error)) return toDatabaseError(error);
  if (isConnectionGone(error) && !(error instanceof AppError)) {
    const message = `Connection lost: ${(error as Error).message}`;
    return new DatabaseError(message, { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }, { cause: error });
  }
  return error;
}

/** What a caller is told to wait before retrying when the database did not answer in time. */
export const DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * Driver codes for a database that could not be reached or did not answer in time. A connection lost
 * mid-request (PROTOCOL_CONNECTION_LOST, ECONNRESET: a KILL, a crash) is not here: its outcome is
 * unknown and it stays a generic 500.
 */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);
/**
 * Server errnos for a statement out of time: lock wait timeout (1205), MariaDB max_statement_time
 * (1969), MySQL max_execution_time (3024).
 */
const STATEMENT_TIMEOUT_ERRNOS: ReadonlySet<number> = new Set([1205, 1969, 3024]);

/**
 * The database did not answer in time or could not be reached: the invocation's deadline passed, the
 * connect timed out or was refused, or a statement hit a server-side time bound. Transient and not
 * the caller's doing, so the API answers 503 with Retry-After (lib/http.ts), never 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DeadlineExceededError) return true;
  if (!(error instanceof DatabaseError)) return false;
  return (
    (error.code !== undefined && UNREACHABLE_CODES.has(error.code)) ||
    (error.errno !== undefined && STATEMENT_TIMEOUT_ERRNOS.has(error.errno))
  );
}
