// withConnection(): the only place a MySQL connection is opened and ended. One connection per call,
// opened inside the invocation and always ended in `finally`; never a connection or pool at module
// scope, because a frozen or timed-out Lambda environment would hold it, and enough of those lock the
// app user out with error 1203 (over max_user_connections): the failure this project exists to prevent.

import { connect, isIP, type Socket } from 'node:net';
import { type Connection, createConnection, type SslOptions } from 'mysql2/promise';
import { fullJitterDelayMs } from './backoff.js';
import type { DbConfig, DbTls } from './config.js';
import {
  type AuthTokenCache,
  type CredentialSources,
  type Credentials,
  canRefreshCredentials,
  passwordOptions,
  resolveCredentials,
} from './db-auth.js';
import { asProxyRefusal, connectLimitErrnos, isBehindProxy, statementsFor } from './db-proxy.js';
import {
  asDatabaseError,
  ConnectionLimitError,
  DatabaseError,
  DeadlineExceededError,
  driverErrno,
  isConnectionGone,
  isDriverError,
} from './errors.js';
import { logger } from './logger.js';
import type { SecretCache } from './secrets.js';

/** What work may do with the connection: run statements and transactions, never end or share it. */
export type Db = Pick<Connection, 'query' | 'execute' | 'beginTransaction' | 'commit' | 'rollback'> & {
  readonly threadId: number | null;
  /** Behind RDS Proxy, a statement longer than this pins the session; undefined: no such bound. */
  readonly maxStatementBytes?: number | undefined;
};

/** withConnection bound to one invocation's config and clock: what request handlers are given. */
export type RunWithDb = <T>(work: (db: Db) => Promise<T>) => Promise<T>;

/** The part of the Lambda context withConnection needs; a Lambda Context satisfies it. */
export type InvocationClock = { getRemainingTimeInMillis(): number };

export type WithConnectionOptions = {
  /** Bounds connect retries and the work itself; without it the config's retry budget applies. */
  readonly invocation?: InvocationClock | undefined;
  readonly secrets?: SecretCache | undefined;
  /** IAM auth tokens (DB_AUTH=iam); default: the environment's cache, signed with the role's credentials. */
  readonly authTokens?: AuthTokenCache | undefined;
  readonly random?: (() => number) | undefined;
  /** Told of each connect refused for a connection limit and of giving up (the function's metrics). */
  readonly connectionEvents?: ConnectionEvents | undefined;
};

/** What withConnection reports of connection limits; lib/connection-metrics.ts counts and publishes it. */
export type ConnectionEvents = {
  /** A connect was refused with 1040, 1203 or 1226 (behind RDS Proxy also 9501, or a statement was). */
  refused(errno: number): void;
  /** Retrying ran out of time: withConnection throws ConnectionLimitError. */
  gaveUp(): void;
};

/** InnoDB chose this statement as a deadlock victim (1213): re-running it is what the server advises. */
const DEADLOCK_ERRNO = 1213;
const DEADLOCK_ATTEMPTS = 3;

/**
 * Runs `statement` again when InnoDB picks it as a deadlock victim, at most DEADLOCK_ATTEMPTS times
 * in all. `statement` is either a single autocommit statement safe to repeat (conditional UPDATEs,
 * an INSERT whose duplicate-key error the caller handles) or a whole withTransaction call: inside a
 * transaction the server has rolled everything back, so only redoing it from BEGIN is right.
 */
export async function retryOnDeadlock<T>(statement: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (error) {
      if (attempt >= DEADLOCK_ATTEMPTS || driverErrno(error) !== DEADLOCK_ERRNO) throw error;
    }
  }
}

/** Errnos that mean "a connection limit is reached": max_connections, max_user_connections, per account. */
export const CONNECTION_LIMIT_ERRNOS: ReadonlySet<number> = new Set([1040, 1203, 1226]);
const ACCESS_DENIED_ERRNO = 1045;
const END_TIMEOUT_MS = 2000;
/** A healthy server closes the socket well under a millisecond after QUIT; past this, stop waiting. */
const SERVER_CLOSE_WAIT_MS = 250;
/**
 * mysql2 gives every connection a prepared-statement LRU of 16,000 slots by default, allocated up front
 * (four 16,000-element arrays): on a connection that lives for one invocation that allocation and its
 * garbage cost more than twice the CPU of the rest of the connect (bench:backoff prints it). Nothing
 * here prepares statements today; 32 leaves room for an invocation's distinct ones if work does.
 */
export const PREPARED_STATEMENT_CACHE = 32;

export async function withConnection<T>(
  config: DbConfig,
  work: (db: Db) => Promise<T>,
  options: WithConnectionOptions = {},
): Promise<T> {
  const startedAtMs = Date.now();
  const deadlineAtMs =
    options.invocation === undefined
      ? undefined
      : startedAtMs + options.invocation.getRemainingTimeInMillis() - config.deadlineMarginMs;
  const session = await openSession(config, startedAtMs, deadlineAtMs, options);
  try {
    return await runWithinDeadline(session, work, deadlineAtMs);
  } catch (error) {
    // After a fatal error (connection lost, server shutdown) mysql2 has dropped the socket: nothing to end.
    if (isConnectionGone(error)) destroySession(session);
    const refusal = asProxyRefusal(error, config, retryAfterSeconds(config));
    if (refusal !== undefined) {
      // The proxy refused a borrow mid-work: a limit reached like a refused connect, not retried here.
      options.connectionEvents?.refused(refusal.errno);
      options.connectionEvents?.gaveUp();
      throw refusal;
    }
    throw asDatabaseError(error);
  } finally {
    // Half the margin past the deadline: a hung end() must not outlast the invocation, socket and all.
    await closeSession(
      session,
      deadlineAtMs === undefined ? undefined : deadlineAtMs + config.deadlineMarginMs / 2,
    );
  }
}

/** One open connection, and what withConnection knows of its socket. */
type Session = {
  readonly connection: Connection;
  /** What work is given: the connection, or (under a deadline) a view that keeps the server's bounds fresh. */
  readonly db: Db;
  /** Settles once the socket has closed: the server closed it (after QUIT, a KILL, a restart) or we did. */
  readonly serverClosed: Promise<void>;
  destroyed: boolean;
};

function destroySession(session: Session): void {
  session.destroyed = true;
  session.connection.destroy();
}

async function openSession(
  config: DbConfig,
  startedAtMs: number,
  deadlineAtMs: number | undefined,
  options: WithConnectionOptions,
): Promise<Session> {
  const retryUntilMs = deadlineAtMs ?? startedAtMs + config.connectRetryBudgetMs;
  const sources: CredentialSources = { secrets: options.secrets, authTokens: options.authTokens };
  const random = options.random ?? Math.random;
  const limitErrnos = connectLimitErrnos(config, CONNECTION_LIMIT_ERRNOS);
  // A secret fetch (Secrets Manager over the network) or a token signing has no timeout of its own: under
  // a deadline it gets the time left, so a stalled fetch answers 503 in time and no connect follows it.
  const credentialsFor = (forceRefresh: boolean): Promise<Credentials> => {
    const resolving = resolveCredentials(config, sources, forceRefresh);
    if (deadlineAtMs === undefined) return resolving;
    return withinMs(
      resolving,
      deadlineAtMs - Date.now(),
      () => new DeadlineExceededError(deadlineAtMs - startedAtMs),
    );
  };
  let refreshedSecret = false;
  let credentials = await credentialsFor(false);
  /** The last connection-limit refusal: what a connect cut short by the time left is blamed on. */
  let lastRefusal: { errno: number; error: unknown } | undefined;
  for (let attempt = 1; ; attempt++) {
    // Past the first refusal an attempt's connect is cut to the time left: when it then times out, the
    // retry budget ran out mid-handshake, which the loop blames on the refusals (below).
    const leftMs = retryUntilMs - Date.now();
    const cutShort = leftMs < config.connectTimeoutMs;
    const connectTimeoutMs = Math.max(100, Math.min(config.connectTimeoutMs, leftMs));
    try {
      return await connectOnce(config, credentials, connectTimeoutMs, deadlineAtMs);
    } catch (error) {
      const errno = driverErrno(error);
      if (errno === ACCESS_DENIED_ERRNO && canRefreshCredentials(config) && !refreshedSecret) {
        // The password may have been rotated since the secret was cached, or the token refused: once more.
        refreshedSecret = true;
        credentials = await credentialsFor(true);
        continue;
      }
      if (errno !== undefined && limitErrnos.has(errno)) {
        options.connectionEvents?.refused(errno);
        lastRefusal = { errno, error };
        const delayMs = fullJitterDelayMs(
          attempt,
          config.connectRetryBaseMs,
          config.connectRetryCapMs,
          random,
        );
        if (Date.now() + delayMs < retryUntilMs) {
          await sleep(delayMs);
          continue;
        }
      } else if (lastRefusal === undefined || !cutShort || driverCode(error) !== 'ETIMEDOUT') {
        throw asDatabaseError(error);
      }
      // Retrying refused connects used up the time: refused once more, or the last try, cut to the time
      // left, ran out of it mid-handshake (a server near its limit is slow to answer). Either way the
      // limit is the cause, so say so (503).
      options.connectionEvents?.gaveUp();
      throw new ConnectionLimitError(lastRefusal.errno, attempt, retryAfterSeconds(config), {
        cause: asDatabaseError(lastRefusal.error),
      });
    }
  }
}

async function connectOnce(
  config: DbConfig,
  credentials: Credentials,
  connectTimeoutMs: number,
  deadlineAtMs: number | undefined,
): Promise<Session> {
  const socket = ownSocket(credentials.host, credentials.port);
  const connection = await createConnection({
    stream: socket.stream,
    host: credentials.host,
    port: credentials.port,
    user: credentials.user,
    ...passwordOptions(credentials, config.tls),
    // An empty name connects to no database (bootstrap scripts create it).
    ...(credentials.database === '' ? {} : { database: credentials.database }),
    charset: 'UTF8MB4_UNICODE_CI',
    timezone: 'Z',
    dateStrings: ['DATE'],
    connectTimeout: connectTimeoutMs,
    connectAttributes: { program_name: config.programName },
    maxPreparedStatements: PREPARED_STATEMENT_CACHE,
    ...(config.tls === undefined ? {} : { ssl: sslOptions(config.tls, credentials.host) }),
  });
  // Without a listener a fatal socket error on an idle connection would crash the process.
  connection.on('error', (error: unknown) => {
    logger.warn('database connection error', { errorCode: driverCode(error) });
  });
  const socketClosed = socket.closed();
  if (socketClosed === undefined) {
    connection.destroy();
    throw new Error('mysql2 connected without asking for a socket');
  }
  if (isBehindProxy(config)) {
    // The target group's InitQuery has set the session once per database connection, and a SET here
    // (the per-invocation bounds included) would pin this session: docs/design.md#rds-proxy-and-iam-authentication.
    return {
      connection,
      db: statementsFor(connection, config),
      serverClosed: socketClosed,
      destroyed: false,
    };
  }
  const bounds = createServerBounds(connection, config, deadlineAtMs);
  // mysql2's connectTimeout ends with the handshake: the SET gets its own bound, the deadline or
  // connectTimeout, whichever comes first (a link that stalls after the login would hang it forever).
  const setupStartedMs = Date.now();
  const setupByMs = Math.min(
    setupStartedMs + config.connectTimeoutMs,
    deadlineAtMs ?? Number.POSITIVE_INFINITY,
  );
  try {
    await withinMs(
      connection.query(bounds.sessionSql, bounds.sessionValues()),
      setupByMs - setupStartedMs,
      () =>
        deadlineAtMs !== undefined && setupByMs === deadlineAtMs
          ? new DeadlineExceededError(setupByMs - setupStartedMs)
          : new DatabaseError('The session set-up timed out', { code: 'ETIMEDOUT', fatal: true }),
    );
  } catch (error) {
    connection.destroy();
    throw error;
  }
  return { connection, db: bounds.db, serverClosed: socketClosed, destroyed: false };
}

/**
 * Our own TCP socket for mysql2, so that we see the server close it: mysql2 re-emits that as 'end'
 * over plain TCP only, not once it has wrapped the socket in TLS. Options as mysql2 sets on its own
 * socket. `closed` is undefined until mysql2 has asked for the socket.
 */
export function ownSocket(
  host: string,
  port: number,
): { stream: () => Socket; closed: () => Promise<void> | undefined } {
  let closed: Promise<void> | undefined;
  return {
    stream: () => {
      const socket = connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 0 });
      closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      return socket;
    },
    closed: () => closed,
  };
}

/** The server flavour, from the version its handshake announced (no extra round trip). */
type ServerFlavour = 'mariadb' | 'mysql' | 'unknown';

export function serverFlavour(serverVersion: string | undefined): ServerFlavour {
  if (serverVersion === undefined) return 'unknown';
  if (/mariadb/i.test(serverVersion)) return 'mariadb';
  const version = /^(\d+)\.(\d+)\.(\d+)/.exec(serverVersion);
  if (version === null) return 'unknown';
  const [major, minor, patch] = [Number(version[1]), Number(version[2]), Number(version[3])];
  // max_execution_time arrived in MySQL 5.7.8.
  return major > 5 || (major === 5 && (minor > 7 || (minor === 7 && patch >= 8))) ? 'mysql' : 'unknown';
}

/** mysql2 keeps the handshake on its core connection, untyped: read it defensively. */
function handshakeServerVersion(connection: Connection): string | undefined {
  const core: unknown = Reflect.get(connection, 'connection');
  if (typeof core !== 'object' || core === null) return undefined;
  const handshake: unknown = Reflect.get(core, '_handshakePacket');
  if (typeof handshake !== 'object' || handshake === null) return undefined;
  const version: unknown = Reflect.get(handshake, 'serverVersion');
  return typeof version === 'string' ? version : undefined;
}

/**
 * The server keeps running a statement after our socket is gone (a lock wait ran 46 s past the
 * deadline): under a deadline every statement is also bounded on the server, by the invocation's
 * remaining time plus a grace that lets the client's own DeadlineExceededError come first. See
 * docs/design.md#server-side-statement-bounds.
 */
const SERVER_BOUND_GRACE_MS = 500;
/**
 * Bounds sent at connect shrink in value as the invocation goes on only if they are sent again: when
 * older than this, the next statement first re-sends them, so no statement outlives the deadline by
 * more than grace + refresh age (+1 s: innodb_lock_wait_timeout is whole seconds).
 */
const SERVER_BOUND_REFRESH_MS = 500;

type ServerBounds = {
  readonly sessionSql: string;
  sessionValues(): unknown[];
  readonly db: Db;
};

/** Which variable bounds a statement's run time on this server, besides the row-lock wait. */
type StatementBound = 'max_statement_time' | 'max_execution_time' | undefined;

function createServerBounds(
  connection: Connection,
  config: DbConfig,
  deadlineAtMs: number | undefined,
): ServerBounds {
  if (deadlineAtMs === undefined) {
    // Scripts and migrations: no invocation deadline, the server's own limits apply.
    return {
      sessionSql: BASE_SESSION_SQL,
      sessionValues: () => [config.sessionWaitTimeoutSeconds],
      db: connection,
    };
  }
  // MariaDB: max_statement_time (seconds, fractional) bounds every statement. MySQL: max_execution_time
  // (ms) bounds read-only SELECTs only. Both: innodb_lock_wait_timeout (whole seconds) bounds row-lock waits.
  const flavour = serverFlavour(handshakeServerVersion(connection));
  const bound: StatementBound =
    flavour === 'mariadb' ? 'max_statement_time' : flavour === 'mysql' ? 'max_execution_time' : undefined;
  const bounded = new BoundedDb(connection, deadlineAtMs, bound);
  // Its query and execute take and return what the connection's do: only their overloads are not spelled out.
  const db = bounded as unknown as Db;
  return {
    sessionSql: `${BASE_SESSION_SQL}, ${boundsSql(bound)}`,
    sessionValues: () => [config.sessionWaitTimeoutSeconds, ...bounded.boundValues()],
    db,
  };
}

const BASE_SESSION_SQL = "SET SESSION wait_timeout = ?, time_zone = '+00:00'";

function boundsSql(bound: StatementBound): string {
  return bound === undefined ? 'innodb_lock_wait_timeout = ?' : `innodb_lock_wait_timeout = ?, ${bound} = ?`;
}

/**
 * What work is given under a deadline: the connection's statement methods, each first re-sending the
 * server-side bounds when they are older than SERVER_BOUND_REFRESH_MS. A class, not a Proxy: see
 * docs/design.md#server-side-statement-bounds.
 */
class BoundedDb {
  #sentAtMs = 0;
  readonly #connection: Connection;
  readonly #deadlineAtMs: number;
  readonly #bound: StatementBound;
  readonly #refreshSql: string;

  constructor(connection: Connection, deadlineAtMs: number, bound: StatementBound) {
    this.#connection = connection;
    this.#deadlineAtMs = deadlineAtMs;
    this.#bound = bound;
    this.#refreshSql = `SET SESSION ${boundsSql(bound)}`;
  }

  get threadId(): number | null {
    return this.#connection.threadId;
  }

  /** The bounds' values as of now, and when they were sent. */
  boundValues(): unknown[] {
    this.#sentAtMs = Date.now();
    const boundMs = Math.max(1, this.#deadlineAtMs - this.#sentAtMs + SERVER_BOUND_GRACE_MS);
    const lockWaitSeconds = Math.max(1, Math.ceil(boundMs / 1000));
    if (this.#bound === 'max_statement_time') return [lockWaitSeconds, boundMs / 1000];
    if (this.#bound === 'max_execution_time') return [lockWaitSeconds, boundMs];
    return [lockWaitSeconds];
  }

  #refreshIfDue(): Promise<unknown> | undefined {
    return Date.now() - this.#sentAtMs <= SERVER_BOUND_REFRESH_MS
      ? undefined
      : this.#connection.query(this.#refreshSql, this.boundValues());
  }

  // Every statement work sends goes through query or execute: refresh the bounds first when due.
  query(...args: unknown[]): Promise<unknown> {
    const connection = this.#connection;
    const refreshing = this.#refreshIfDue();
    if (refreshing === undefined) return Reflect.apply(connection.query, connection, args);
    return refreshing.then(() => Reflect.apply(connection.query, connection, args));
  }

  execute(...args: unknown[]): Promise<unknown> {
    const connection = this.#connection;
    const refreshing = this.#refreshIfDue();
    if (refreshing === undefined) return Reflect.apply(connection.execute, connection, args);
    return refreshing.then(() => Reflect.apply(connection.execute, connection, args));
  }

  beginTransaction(): Promise<void> {
    return this.#connection.beginTransaction();
  }

  commit(): Promise<void> {
    return this.#connection.commit();
  }

  rollback(): Promise<void> {
    return this.#connection.rollback();
  }
}

/**
 * One ssl object per TLS setting and kind of host, kept for the environment's life (it holds no
 * connection): mysql2 caches the parsed CAs (its secure context) and resumable TLS sessions on that
 * object's identity, so a new object per connect would parse the RDS bundle's certificates every
 * time and resume no session.
 */
const sslOptionsCache = new WeakMap<DbTls, Map<boolean, SslOptions>>();

function sslOptions(tls: DbTls, host: string): SslOptions {
  // mysql2 checks the name only for a host name: for an IP address it would compare the certificate
  // with "localhost", so there the chain to the CA is the whole check (docs/deploying.md, step 5: TLS).
  const verifyIdentity = isIP(host) === 0;
  let byHostKind = sslOptionsCache.get(tls);
  if (byHostKind === undefined) {
    byHostKind = new Map();
    sslOptionsCache.set(tls, byHostKind);
  }
  let options = byHostKind.get(verifyIdentity);
  if (options === undefined) {
    options = {
      rejectUnauthorized: tls.rejectUnauthorized,
      verifyIdentity,
      minVersion: tls.minVersion,
      ...(tls.ca === undefined ? {} : { ca: [...tls.ca] }),
    };
    byHostKind.set(verifyIdentity, options);
  }
  return options;
}

async function runWithinDeadline<T>(
  session: Session,
  work: (db: Db) => Promise<T>,
  deadlineAtMs: number | undefined,
): Promise<T> {
  const running = work(session.db);
  if (deadlineAtMs === undefined) return running;
  let timer: NodeJS.Timeout | undefined;
  const budgetMs = Math.max(0, deadlineAtMs - Date.now());
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Lambda is about to stop this invocation: close the socket now rather than leave the session
      // behind; the server then ends it. The abandoned work's late rejection is swallowed below.
      destroySession(session);
      reject(new DeadlineExceededError(budgetMs));
    }, budgetMs);
  });
  running.catch(() => {});
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function closeSession(session: Session, closeByMs: number | undefined): Promise<void> {
  if (session.destroyed) return;
  const leftMs = (limitMs: number) =>
    closeByMs === undefined ? limitMs : Math.max(0, Math.min(limitMs, closeByMs - Date.now()));
  try {
    await withinMs(session.connection.end(), leftMs(END_TIMEOUT_MS), 'end()');
    // mysql2's end() resolves once QUIT is written. The server gives the session's slot of the user's
    // limit back before it closes the socket, so waiting for that close means the slot is free when
    // withConnection returns: a connect right after (the environment's next invocation) is not
    // refused for the session this one just ended.
    await withinMs(session.serverClosed, leftMs(SERVER_CLOSE_WAIT_MS), 'the server closing the session');
  } catch (error) {
    // A cleanup failure never replaces the work's result or error; the socket still goes.
    destroySession(session);
    logger.warn('connection end failed; destroyed it', { errorCode: driverCode(error) });
  }
}

async function withinMs<T>(promise: Promise<T>, limitMs: number, what: string | (() => Error)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // The losing promise's late rejection is nobody's business (its connection is destroyed).
  promise.catch(() => undefined);
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(typeof what === 'string' ? new Error(`${what} took longer than ${limitMs} ms`) : what()),
          Math.max(0, limitMs),
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function driverCode(error: unknown): string | undefined {
  return isDriverError(error) ? error.code : error instanceof Error ? error.message : undefined;
}

/** Retry-After for a refused connection: the retry cap, at least a second. */
function retryAfterSeconds(config: DbConfig): number {
  return Math.max(1, Math.ceil(config.connectRetryCapMs / 1000));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
