// One monitor run on the monitor's own connection: a snapshot of what the server offers, the policy
// evaluated on it (pure, so a saved snapshot gives the same decisions offline), kills or statement
// stops (or a dry run), the import queue's numbers and the server counters between runs. Shared by
// the Lambda handler and the operators' CLI.

import type { MonitorConfig, MonitorNeverKill } from '../config.js';
import type { Db } from '../db.js';
import { isDriverError } from '../errors.js';
import { failureRatePercent } from '../health/import-queue.js';
import { type ImportQueueStats, importQueueHealth } from '../imports/job-repository.js';
import type { ServerCounters } from './counters.js';
import {
  type AuditLog,
  dryRunOutcomes,
  type KillOutcome,
  killSessions,
  leftOutcomes,
} from './kill-sessions.js';
import {
  type AccountLimit,
  capKills,
  decideKill,
  idleThresholdSeconds,
  isIdleBeyond,
  type KillCandidate,
  type KillDecision,
  type KillPolicy,
  measureUsers,
  type ServerLimits,
  selectKillCandidates,
  type Thresholds,
  type UsageLevel,
  type UserUsage,
  worstLevel,
} from './policy.js';
import { readServerCounters } from './server-counters.js';
import { MONITOR_SNAPSHOT_FORMAT, type MonitorSnapshot } from './snapshot.js';
import {
  readAccountLimits,
  readServerState,
  readSessions,
  type ServerState,
  type SessionSource,
} from './snapshot-repository.js';

/** What decides the kills: the same for a live run and for a saved snapshot evaluated offline. */
export type MonitorPolicyInput = {
  readonly thresholds: Thresholds;
  readonly killIdle: boolean;
  /** Undefined: runaway statements are only reported, never stopped. */
  readonly maxBusySeconds: number | undefined;
  readonly neverKill: MonitorNeverKill;
  readonly maxKillsPerRun: number;
};

export type MonitorInput = MonitorPolicyInput & {
  readonly targetUsers: readonly string[];
  /** Store this run's counters for the next run's deltas (the scheduled Lambda); false only compares. */
  readonly recordCounters: boolean;
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

/** What the policy made of one target user's session, and why: the offline evaluation prints these. */
export type SessionDecision = {
  readonly id: number;
  readonly user: string;
  readonly host: string;
  readonly programName: string | null;
  readonly command: string;
  readonly timeSeconds: number;
  readonly decision: KillDecision;
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
  /** False without performance_schema: never-kill program names cannot be checked (nothing is killed then). */
  readonly programNamesVisible: boolean;
  /** Where the sessions were read: performance_schema.processlist (MySQL 8.0.22+) or information_schema. */
  readonly sessionSource: SessionSource;
  /** The idle threshold in force: the emergency one at warning level. */
  readonly idleThresholdSeconds: number;
  readonly maxBusySeconds: number | null;
  readonly maxKillsPerRun: number;
  readonly users: readonly UserUsage[];
  /** The target users' sessions sleeping longer than the idle threshold in force. */
  readonly idleSessions: readonly IdleSession[];
  /** Every target user's session with the policy's decision, in processlist order. */
  readonly decisions: readonly SessionDecision[];
  readonly kills: readonly KillOutcome[];
  readonly killedSessions: number;
  /** Runaway statements stopped with KILL QUERY (their sessions kept); counted in killedSessions too. */
  readonly stoppedStatements: number;
  readonly killFailures: number;
  /** Candidates over MAX_KILLS_PER_RUN, reported and left for the next run. */
  readonly killsLeft: number;
  readonly importQueue: ImportQueueReport | null;
  /** Why the import queue numbers are missing (a grant, usually); null when they are there. */
  readonly importQueueSkipped: string | null;
  /** The server's counters and what moved since the last run; null offline. */
  readonly counters: ServerCounters | null;
  /** Why the deltas are missing (monitor_counters unreadable, offline); null when they are there. */
  readonly countersNote: string | null;
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

/** The policy part of the monitor's configuration (handler, CLI and offline evaluation alike). */
export function policyInputFrom(config: MonitorConfig): MonitorPolicyInput {
  return {
    thresholds: pickThresholds(config),
    killIdle: config.killIdle,
    maxBusySeconds: config.maxBusySeconds,
    neverKill: config.neverKill,
    maxKillsPerRun: config.maxKillsPerRun,
  };
}

/** The input of one run as the monitor's configuration describes it (handler and CLI alike). */
export function monitorInputFrom(
  config: MonitorConfig,
  targetUsers: readonly string[],
  log: AuditLog,
  recordCounters = false,
): MonitorInput {
  return {
    ...policyInputFrom(config),
    targetUsers,
    recordCounters,
    importSchema: config.importSchema,
    now: new Date(),
    log,
  };
}

/** One run: read what the server offers, decide, kill (or not), and read the import queue. */
export async function runMonitor(db: Db, input: MonitorInput): Promise<MonitorReport> {
  return actOnSnapshot(db, await readMonitorSnapshot(db, input.targetUsers, input.now), input);
}

/** Everything the policy reads, in one object that can be saved and evaluated again offline. */
export async function readMonitorSnapshot(
  db: Db,
  targetUsers: readonly string[],
  now: Date,
): Promise<MonitorSnapshot> {
  const server = await readServerState(db);
  const accounts = await readTargetAccountLimits(db, targetUsers, server);
  const { sessions, transactionsVisible, programNamesVisible, plan } = await readSessions(db, server);
  return {
    format: MONITOR_SNAPSHOT_FORMAT,
    takenAt: now.toISOString(),
    targetUsers: [...targetUsers],
    server,
    accounts,
    sessions,
    transactionsVisible,
    programNamesVisible,
    plan,
  };
}

export type Evaluation = {
  readonly level: UsageLevel;
  readonly idleThresholdSeconds: number;
  readonly users: UserUsage[];
  readonly policy: KillPolicy;
  readonly decisions: SessionDecision[];
  /** The candidates this run acts on (at most maxKillsPerRun), in order. */
  readonly selected: KillCandidate[];
  /** The candidates over the cap. */
  readonly left: KillCandidate[];
};

/** The policy applied to a snapshot: pure, so a saved snapshot gives the same decisions offline. */
export function evaluateSnapshot(snapshot: MonitorSnapshot, input: MonitorPolicyInput): Evaluation {
  const { server, sessions, targetUsers } = snapshot;
  const users = measureUsers(sessions, targetUsers, server, snapshot.accounts, input.thresholds);
  const level = worstLevel(users.map((usage) => usage.level));
  const policy: KillPolicy = {
    targetUsers,
    level,
    thresholds: input.thresholds,
    ownSessionId: server.ownSessionId,
    transactionsVisible: snapshot.transactionsVisible,
    neverKill: input.neverKill,
    programNamesVisible: snapshot.programNamesVisible,
    maxBusySeconds: input.maxBusySeconds ?? null,
    nowMs: Date.parse(snapshot.takenAt),
  };
  const { selected, left } = capKills(selectKillCandidates(sessions, policy), input.maxKillsPerRun);
  const decisions = sessions
    .filter((session) => targetUsers.includes(session.user))
    .map((session) => ({
      id: session.id,
      user: session.user,
      host: session.host,
      programName: session.programName,
      command: session.command,
      timeSeconds: session.timeSeconds,
      decision: decideKill(session, policy),
    }));
  return {
    level,
    idleThresholdSeconds: idleThresholdSeconds(level, input.thresholds),
    users,
    policy,
    decisions,
    selected,
    left,
  };
}

/** Kills what the evaluation selects (or lists it, in a dry run) and reads the import queue. */
export async function actOnSnapshot(
  db: Db,
  snapshot: MonitorSnapshot,
  input: MonitorInput,
): Promise<MonitorReport> {
  const evaluation = evaluateSnapshot(snapshot, input);
  for (const usage of evaluation.users) {
    if (!usage.accountFound) input.log.warn('target user has no account in mysql.user', { user: usage.user });
  }
  const dryRun = !input.killIdle;
  const kills = [
    ...(await killSessions(db, evaluation.selected, {
      dryRun,
      policy: evaluation.policy,
      log: input.log,
      plan: snapshot.plan,
    })),
    ...leftOutcomes(evaluation.left, input.log),
  ];
  const queue = input.importSchema === undefined ? null : await readQueue(db, input.importSchema, input.log);
  const counters = await readServerCounters(db, {
    schema: input.importSchema,
    targetUsers: snapshot.targetUsers,
    performanceSchema: snapshot.server.performanceSchema,
    record: input.recordCounters,
    now: input.now,
    log: input.log,
  });
  return buildReport(snapshot, evaluation, {
    dryRun,
    kills,
    maxKillsPerRun: input.maxKillsPerRun,
    importQueue: queue?.counts ?? null,
    importQueueSkipped: queue === null ? 'not configured' : queue.skipped,
    counters: counters.counters,
    countersNote: counters.note,
  });
}

/** A saved snapshot evaluated with no database: what a run would kill, and why. */
export function evaluateOffline(
  snapshot: MonitorSnapshot,
  input: MonitorPolicyInput,
  log: AuditLog,
): MonitorReport {
  const evaluation = evaluateSnapshot(snapshot, input);
  return buildReport(snapshot, evaluation, {
    dryRun: true,
    kills: [...dryRunOutcomes(evaluation.selected, log), ...leftOutcomes(evaluation.left, log)],
    maxKillsPerRun: input.maxKillsPerRun,
    importQueue: null,
    importQueueSkipped: 'offline evaluation',
    counters: null,
    countersNote: 'offline evaluation',
  });
}

function buildReport(
  snapshot: MonitorSnapshot,
  evaluation: Evaluation,
  outcome: {
    dryRun: boolean;
    kills: KillOutcome[];
    maxKillsPerRun: number;
    importQueue: ImportQueueReport | null;
    importQueueSkipped: string | null;
    counters: ServerCounters | null;
    countersNote: string | null;
  },
): MonitorReport {
  const { server, sessions, targetUsers } = snapshot;
  const threshold = evaluation.idleThresholdSeconds;
  const { kills } = outcome;
  return {
    checkedAt: snapshot.takenAt,
    level: evaluation.level,
    dryRun: outcome.dryRun,
    ownSessionId: server.ownSessionId,
    totalSessions: sessions.length,
    server: { maxConnections: server.maxConnections, maxUserConnections: server.maxUserConnections },
    thresholds: pickThresholds(evaluation.policy.thresholds),
    transactionsVisible: snapshot.transactionsVisible,
    programNamesVisible: snapshot.programNamesVisible,
    sessionSource: snapshot.plan.source,
    idleThresholdSeconds: threshold,
    maxBusySeconds: evaluation.policy.maxBusySeconds,
    maxKillsPerRun: outcome.maxKillsPerRun,
    users: evaluation.users,
    idleSessions: sessions
      .filter((session) => targetUsers.includes(session.user) && isIdleBeyond(session, threshold))
      .map((session) => ({
        id: session.id,
        user: session.user,
        db: session.db,
        idleSeconds: session.timeSeconds,
        inTransaction: session.transactionSeconds !== null,
        info: session.info,
      })),
    decisions: evaluation.decisions,
    kills,
    killedSessions: kills.filter((kill) => kill.result === 'killed').length,
    stoppedStatements: kills.filter((kill) => kill.result === 'killed' && kill.action === 'kill-query')
      .length,
    killFailures: kills.filter((kill) => kill.result === 'failed').length,
    killsLeft: kills.filter((kill) => kill.result === 'left').length,
    importQueue: outcome.importQueue,
    importQueueSkipped: outcome.importQueueSkipped,
    counters: outcome.counters,
    countersNote: outcome.countersNote,
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
