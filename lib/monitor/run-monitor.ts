// One monitor run on the monitor's own connection: snapshot, usage and level, kills (or a dry run),
// and the import queue's numbers. Shared by the Lambda handler and the operators' CLI.

import type { MonitorConfig } from '../config.js';
import type { Db } from '../db.js';
import { isDriverError } from '../errors.js';
import { failureRatePercent } from '../health/import-queue.js';
import { type ImportQueueStats, importQueueHealth } from '../imports/job-repository.js';
import { type AuditLog, type KillOutcome, killSessions } from './kill-sessions.js';
import {
  type AccountLimit,
  idleThresholdSeconds,
  isIdleBeyond,
  type KillPolicy,
  measureUsers,
  type ServerLimits,
  selectKillCandidates,
  type Thresholds,
  type UsageLevel,
  type UserUsage,
  worstLevel,
} from './policy.js';
import { readAccountLimits, readServerState, readSessions, type ServerState } from './snapshot-repository.js';

export type MonitorInput = {
  readonly targetUsers: readonly string[];
  readonly thresholds: Thresholds;
  readonly killIdle: boolean;
  /** The app's schema for the import queue numbers; undefined skips them. */
  readonly importSchema: string | undefined;
  readonly now: Date;
  readonly log: AuditLog;
};

export type IdleSession = {
  readonly id: number;
  readonly user: string;
  readonly db: string | null;
  readonly idleSeconds: number;
  readonly inTransaction: boolean;
  readonly info: string | null;
};

export type ImportQueueReport = ImportQueueStats & {
  /** System failures ÷ finished over the last 24 h, in percent; 0 when nothing finished (failureRatePercent). */
  readonly failureRatePercent: number;
};

export type MonitorReport = {
  readonly checkedAt: string;
  readonly level: UsageLevel;
  readonly dryRun: boolean;
  readonly ownSessionId: number;
  /** Every session on the server except the monitor's own. */
  readonly totalSessions: number;
  readonly server: ServerLimits;
  readonly thresholds: Thresholds;
  /** False without PROCESS: idle sessions are then all held to the in-transaction threshold. */
  readonly transactionsVisible: boolean;
  /** The idle threshold in force: the emergency one at warning level. */
  readonly idleThresholdSeconds: number;
  readonly users: readonly UserUsage[];
  /** The target users' sessions sleeping longer than the idle threshold in force. */
  readonly idleSessions: readonly IdleSession[];
  readonly kills: readonly KillOutcome[];
  readonly killedSessions: number;
  readonly killFailures: number;
  readonly importQueue: ImportQueueReport | null;
  /** Why the import queue numbers are missing (a grant, usually); null when they are there. */
  readonly importQueueSkipped: string | null;
};

/** The thresholds alone, copied: a report built from the monitor config must never carry its credentials. */
export function pickThresholds(config: Thresholds): Thresholds {
  return {
    maxIdleSeconds: config.maxIdleSeconds,
    maxIdleInTransactionSeconds: config.maxIdleInTransactionSeconds,
    emergencyMaxIdleSeconds: config.emergencyMaxIdleSeconds,
    usageCautionPercent: config.usageCautionPercent,
    usageWarningPercent: config.usageWarningPercent,
  };
}

/** The input of one run as the monitor's configuration describes it (handler and CLI alike). */
export function monitorInputFrom(
  config: MonitorConfig,
  targetUsers: readonly string[],
  log: AuditLog,
  now: Date = new Date(),
): MonitorInput {
  return {
    targetUsers,
    thresholds: pickThresholds(config),
    killIdle: config.killIdle,
    importSchema: config.importSchema,
    now,
    log,
  };
}

export async function runMonitor(db: Db, input: MonitorInput): Promise<MonitorReport> {
  const server = await readServerState(db);
  const accounts = await readTargetAccountLimits(db, input.targetUsers, server);
  const { sessions, transactionsVisible } = await readSessions(db);
  const users = measureUsers(sessions, input.targetUsers, server, accounts, input.thresholds);
  for (const usage of users) {
    if (!usage.accountFound) input.log.warn('target user has no account in mysql.user', { user: usage.user });
  }
  const level = worstLevel(users.map((usage) => usage.level));
  const threshold = idleThresholdSeconds(level, input.thresholds);
  const policy: KillPolicy = {
    targetUsers: input.targetUsers,
    level,
    thresholds: input.thresholds,
    ownSessionId: server.ownSessionId,
    transactionsVisible,
  };
  const dryRun = !input.killIdle;
  const kills = await killSessions(db, selectKillCandidates(sessions, policy), {
    dryRun,
    policy,
    log: input.log,
  });
  const queue = input.importSchema === undefined ? null : await readQueue(db, input.importSchema, input.log);
  return {
    checkedAt: input.now.toISOString(),
    level,
    dryRun,
    ownSessionId: server.ownSessionId,
    totalSessions: sessions.length,
    server: { maxConnections: server.maxConnections, maxUserConnections: server.maxUserConnections },
    thresholds: pickThresholds(input.thresholds),
    transactionsVisible,
    idleThresholdSeconds: threshold,
    users,
    idleSessions: sessions
      .filter((session) => input.targetUsers.includes(session.user) && isIdleBeyond(session, threshold))
      .map((session) => ({
        id: session.id,
        user: session.user,
        db: session.db,
        idleSeconds: session.timeSeconds,
        inTransaction: session.transactionSeconds !== null,
        info: session.info,
      })),
    kills,
    killedSessions: kills.filter((kill) => kill.result === 'killed').length,
    killFailures: kills.filter((kill) => kill.result === 'failed').length,
    importQueue: queue?.counts ?? null,
    importQueueSkipped: queue === null ? 'not configured' : queue.skipped,
  };
}

const ER_TABLEACCESS_DENIED_ERROR = 1142;

/**
 * The target users' own limits from mysql.user. Without SELECT on it (the CLI logging in as the app
 * user) the limit of the monitor's own account still shows in its session; anyone else's does not.
 */
async function readTargetAccountLimits(
  db: Db,
  targetUsers: readonly string[],
  server: ServerState,
): Promise<AccountLimit[]> {
  try {
    return await readAccountLimits(db, targetUsers);
  } catch (error) {
    const onlyItself = targetUsers.every((user) => user === server.ownUser);
    if (!onlyItself || !isDriverError(error) || error.errno !== ER_TABLEACCESS_DENIED_ERROR) throw error;
    return [{ user: server.ownUser, host: '(own session)', maxUserConnections: server.ownSessionUserLimit }];
  }
}

/** Errors meaning "the monitor may not read (or cannot find) import_jobs": skip, do not fail. */
const QUEUE_UNREADABLE_ERRNOS: ReadonlySet<number> = new Set([1044, 1049, 1142, 1143, 1146]);

async function readQueue(
  db: Db,
  schema: string,
  log: AuditLog,
): Promise<{ counts: ImportQueueReport | null; skipped: string | null }> {
  try {
    const counts = await importQueueHealth(db, schema);
    // The same rate GET /api/health reports: system failures only.
    return { counts: { ...counts, failureRatePercent: failureRatePercent(counts) }, skipped: null };
  } catch (error) {
    if (!isDriverError(error) || error.errno === undefined || !QUEUE_UNREADABLE_ERRNOS.has(error.errno)) {
      throw error;
    }
    // A missing grant must not cost the connection metrics: warn and carry on.
    log.warn('import queue metrics skipped: the monitor cannot read import_jobs', {
      schema,
      errno: error.errno,
      errorCode: error.code,
    });
    return { counts: null, skipped: error.code ?? `errno ${error.errno}` };
  }
}
