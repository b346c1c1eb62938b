// withConnection(): the only place a MySQL connection is opened and ended. One connection per call,
// opened inside the invocation and always ended in `finally`; never a connection or pool at module
// scope, because a frozen or timed-out Lambda environment would hold it (the 1203 incident).

import { connect, isIP } from 'node:net';
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
};

/** withConnection bound to one invocation's config and clock: what request handlers are given. */
export type RunWithDb = <T>(work: (db: Db) => Promise<T>) => Promise<T>;

/** The part of the Lambda context withConnection needs; a Lambda Context satisfies it. */
export type InvocationClock = { getRemainingTimeInMillis(): number };

export type WithConnectionOptions = {
  /** Bounds connect retries and the work itself; without it the config's retry budget applies. */
  readonly invocation?: InvocationClock | undefined;
  readonly secrets?: SecretCache | undefined;
  /** IAM auth tokens (DB_AUTH=iam); default: the environment's cache over @aws-sdk/rds-signer. */
  readonly authTokens?: AuthTokenCache | undefined;
  readonly random?: (() => number) | undefined;
};

/** InnoDB chose this statement as a deadlock victim (1213): re-running it is what the server advises. */
const DEADLOCK_ERRNO = 1213;
const DEADLOCK_ATTEMPTS = 3;

/**
 * Runs a single autocommit statement again when InnoDB picks it as a deadlock victim. Only for
 * statements that stand alone and are safe to repeat (conditional UPDATEs): inside a transaction
 * the whole transaction was rolled back and must be redone instead.
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
  const session = await openSession(
    config,
    deadlineAtMs ?? startedAtMs + config.connectRetryBudgetMs,
    options,
  );
  try {
    return await runWithinDeadline(config, session, work, deadlineAtMs);
  } catch (error) {
    // After a fatal error (connection lost, server shutdown) mysql2 has dropped the socket: nothing to end.
    if (isConnectionGone(error)) destroySession(session);
    throw asProxyRefusal(error, config, retryAfterSeconds(config)) ?? asDatabaseError(error);
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
  retryUntilMs: number,
  options: WithConnectionOptions,
): Promise<Session> {
  const sources: CredentialSources = { secrets: options.secrets, authTokens: options.authTokens };
  const random = options.random ?? Math.random;
  const limitErrnos = connectLimitErrnos(config, CONNECTION_LIMIT_ERRNOS);
  let refreshedSecret = false;
  let credentials = await resolveCredentials(config, sources, false);
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(config, credentials, retryUntilMs);
    } catch (error) {
      const errno = driverErrno(error);
      if (errno === ACCESS_DENIED_ERRNO && canRefreshCredentials(config) && !refreshedSecret) {
        // The password may have been rotated since the secret was cached, or the token refused: once more.
        refreshedSecret = true;
        credentials = await resolveCredentials(config, sources, true);
        continue;
      }
      if (errno !== undefined && limitErrnos.has(errno)) {
        const delayMs = fullJitterDelayMs(
          attempt,
          config.connectRetryBaseMs,
          config.connectRetryCapMs,
          random,
        );
        if (Date.now() + delayMs >= retryUntilMs) {
          throw new ConnectionLimitError(errno, attempt, retryAfterSeconds(config), {
            cause: asDatabaseError(error),
          });
        }
        await sleep(delayMs);
        continue;
      }
      throw asDatabaseError(error);
    }
  }
}

async function connectOnce(
  config: DbConfig,
  credentials: Credentials,
  retryUntilMs: number,
): Promise<Session> {
  let socketClosed: Promise<void> | undefined;
  const connection = await createConnection({
    // Our own TCP socket, so that we see the server close it: mysql2 re-emits that as 'end' over plain
    // TCP only, not once it has wrapped the socket in TLS. Options as mysql2 sets on its own socket.
    stream: () => {
      const socket = connect({
        host: credentials.host,
        port: credentials.port,
        noDelay: true,
        keepAlive: true,
        keepAliveInitialDelay: 0,
      });
      socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      return socket;
    },
    host: credentials.host,
    port: credentials.port,
    user: credentials.user,
    ...passwordOptions(credentials, config.tls),
    // An empty name connects to no database (bootstrap scripts create it).
    ...(credentials.database === '' ? {} : { database: credentials.database }),
    charset: 'UTF8MB4_UNICODE_CI',
    timezone: 'Z',
    dateStrings: ['DATE'],
    connectTimeout: Math.max(100, Math.min(config.connectTimeoutMs, retryUntilMs - Date.now())),
    connectAttributes: { program_name: config.programName },
    maxPreparedStatements: PREPARED_STATEMENT_CACHE,
    ...(config.tls === undefined ? {} : { ssl: sslOptions(config.tls, credentials.host) }),
  });
  // Without a listener a fatal socket error on an idle connection would crash the process.
  connection.on('error', (error: unknown) => {
    logger.warn('database connection error', { errorCode: driverCode(error) });
  });
  // Behind the proxy its InitQuery has set the session (and IdleClientTimeout plays wait_timeout's part).
  if (!isBehindProxy(config)) {
    try {
      // The server closes this session by itself if the invocation freezes or dies before `finally`.
      await connection.query("SET SESSION wait_timeout = ?, time_zone = '+00:00'", [
        config.sessionWaitTimeoutSeconds,
      ]);
    } catch (error) {
      connection.destroy();
      throw error;
    }
  }
  if (socketClosed === undefined) {
    connection.destroy();
    throw new Error('mysql2 connected without asking for a socket');
  }
  return { connection, serverClosed: socketClosed, destroyed: false };
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
  // with "localhost", so there the chain to the CA is the whole check (README: "Deploying", TLS).
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
  config: DbConfig,
  session: Session,
  work: (db: Db) => Promise<T>,
  deadlineAtMs: number | undefined,
): Promise<T> {
  const running = work(statementsFor(session.connection, config));
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

async function withinMs<T>(promise: Promise<T>, limitMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${limitMs} ms`)), limitMs);
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
