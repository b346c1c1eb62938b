// Carries out the kill policy: re-reads the candidates right before killing (a session that woke up,
// or whose runaway statement ended, is spared), kills the rest one by one (KILL CONNECTION, or KILL
// QUERY for a runaway statement), and writes one audit line per kill, failure, dry-run or left entry.

import type { Db } from '../db.js';
import { driverErrno, isDriverError } from '../errors.js';
import {
  ER_KILL_DENIED_ERROR,
  ER_NO_SUCH_QUERY,
  ER_NO_SUCH_THREAD,
  killConnection,
  killQuery,
  killQueryById,
  rdsKill,
  rdsKillExists,
  rdsKillQuery,
} from './kill-repository.js';
import {
  decideKill,
  type KillAction,
  type KillCandidate,
  type KillPolicy,
  type KillReason,
  killAction,
  type SessionRow,
} from './policy.js';
import { readSessionsById, type SessionReadPlan } from './snapshot-repository.js';

/** Where audit lines go: the Lambda's logger, or stderr for the CLI. */
export type AuditLog = {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
};

export type KillResult = 'killed' | 'gone' | 'failed' | 'would-kill' | 'spared' | 'left';

export type KillOutcome = {
  readonly id: number;
  readonly user: string;
  readonly host: string;
  readonly db: string | null;
  readonly programName: string | null;
  /** Seconds in the current command: idle time, or for a runaway statement how long it has run. */
  readonly idleSeconds: number;
  readonly inTransaction: boolean;
  readonly reason: KillReason;
  readonly action: KillAction;
  readonly thresholdSeconds: number;
  /**
   * killed; gone (ended by itself first: 1094 or absent on re-check); failed; would-kill (dry run);
   * spared (busy again, or its statement ended); left (over MAX_KILLS_PER_RUN: the next run's).
   */
  readonly result: KillResult;
  readonly method: 'kill' | 'rds_kill' | null;
  readonly errno: number | null;
  readonly errorCode: string | null;
};

export type KillOptions = {
  readonly dryRun: boolean;
  readonly policy: KillPolicy;
  readonly log: AuditLog;
  /** How the run read the processlist; the re-check reads the same way. */
  readonly plan: SessionReadPlan;
};

/** Candidates over the per-run cap: reported (and audited) as left, never touched. */
export function leftOutcomes(left: readonly KillCandidate[], log: AuditLog): KillOutcome[] {
  return left.map((candidate) => {
    const outcome = toOutcome(candidate, 'left', null);
    log.info('left for the next run: MAX_KILLS_PER_RUN reached', auditFields(outcome));
    return outcome;
  });
}

/** What a run would do, touching nothing: each candidate as would-kill, audited. */
export function dryRunOutcomes(candidates: readonly KillCandidate[], log: AuditLog): KillOutcome[] {
  return candidates.map((candidate) => {
    const outcome = toOutcome(candidate, 'would-kill', null);
    log.info(`would ${describeAction(outcome.action)} (dry run)`, auditFields(outcome));
    return outcome;
  });
}

export async function killSessions(
  db: Db,
  candidates: readonly KillCandidate[],
  options: KillOptions,
): Promise<KillOutcome[]> {
  if (options.dryRun) return dryRunOutcomes(candidates, options.log);
  // The snapshot may be a few milliseconds old: spare any candidate that ran a statement since.
  const fresh = new Map(
    (
      await readSessionsById(
        db,
        candidates.map((candidate) => candidate.session.id),
        options.plan,
      )
    ).map((row) => [row.id, row]),
  );
  const rds: RdsKillCache = { rdsKillAvailable: undefined };
  const outcomes: KillOutcome[] = [];
  for (const candidate of candidates) {
    const row = fresh.get(candidate.session.id);
    const decision = row === undefined ? undefined : decideKill(row, options.policy);
    let outcome: KillOutcome;
    if (row === undefined || decision === undefined) {
      outcome = toOutcome(candidate, 'gone', null);
    } else if (
      !decision.kill ||
      row.user !== candidate.session.user ||
      // Belt and braces: whatever the policy says, only a target user's session is ever killed.
      !options.policy.targetUsers.includes(row.user) ||
      !sameStatement(candidate, row, decision.reason)
    ) {
      outcome = toOutcome(candidate, 'spared', null);
    } else {
      const current = { session: row, reason: decision.reason, thresholdSeconds: decision.thresholdSeconds };
      outcome = await killCandidate(db, current, rds);
    }
    audit(options.log, outcome);
    outcomes.push(outcome);
  }
  return outcomes;
}

/**
 * A runaway statement is stopped only if the one seen is still running: a new statement restarts the
 * processlist's TIME, so a smaller TIME (or another reason now) means the one seen has ended; where
 * the processlist has QUERY_ID (MariaDB), another id says so for certain.
 */
function sameStatement(candidate: KillCandidate, row: SessionRow, reason: KillReason): boolean {
  if (killAction(candidate.reason) !== 'kill-query') return true;
  if (candidate.session.queryId !== undefined && row.queryId !== candidate.session.queryId) return false;
  return reason === candidate.reason && row.timeSeconds >= candidate.session.timeSeconds;
}

function describeAction(action: KillAction): string {
  return action === 'kill-query' ? 'stop runaway statement' : 'kill idle session';
}

/** Whether mysql.rds_kill exists, looked up once per run and only after a KILL was denied. */
export type RdsKillCache = { rdsKillAvailable: boolean | undefined };

/**
 * Kills one session: KILL CONNECTION; 1094 (already ended) counts as gone; 1095 (denied) falls back
 * to mysql.rds_kill where it exists, else is a failure. A fatal error (connection lost) is thrown.
 * A runaway statement is stopped by its query id where the processlist shows one (MariaDB: KILL
 * QUERY ID, so a statement the session started since is never hit; 1957 means the one seen ended),
 * else by the session's id (MySQL: KILL QUERY), see docs/design.md#runaway-statements.
 */
export async function killCandidate(
  db: Db,
  candidate: KillCandidate,
  rds: RdsKillCache,
): Promise<KillOutcome> {
  const query = killAction(candidate.reason) === 'kill-query';
  const { id, queryId } = candidate.session;
  try {
    if (!query) await killConnection(db, id);
    else if (queryId === undefined) await killQuery(db, id);
    else await killQueryById(db, queryId);
    return toOutcome(candidate, 'killed', 'kill');
  } catch (error) {
    const errno = driverErrno(error);
    if (errno === ER_NO_SUCH_THREAD || errno === ER_NO_SUCH_QUERY) {
      return toOutcome(candidate, 'gone', 'kill', error);
    }
    if (errno === ER_KILL_DENIED_ERROR) {
      rds.rdsKillAvailable ??= await rdsKillExists(db);
      return rds.rdsKillAvailable
        ? killWithRds(db, candidate)
        : toOutcome(candidate, 'failed', 'kill', error);
    }
    if (isDriverError(error) && error.fatal !== true) return toOutcome(candidate, 'failed', 'kill', error);
    throw error;
  }
}

async function killWithRds(db: Db, candidate: KillCandidate): Promise<KillOutcome> {
  try {
    await (killAction(candidate.reason) === 'kill-query' ? rdsKillQuery : rdsKill)(db, candidate.session.id);
    return toOutcome(candidate, 'killed', 'rds_kill');
  } catch (error) {
    if (driverErrno(error) === ER_NO_SUCH_THREAD) return toOutcome(candidate, 'gone', 'rds_kill', error);
    if (isDriverError(error) && error.fatal !== true)
      return toOutcome(candidate, 'failed', 'rds_kill', error);
    throw error;
  }
}

function audit(log: AuditLog, outcome: KillOutcome): void {
  const fields = auditFields(outcome);
  const query = outcome.action === 'kill-query';
  if (outcome.result === 'killed')
    log.info(query ? 'stopped runaway statement' : 'killed idle session', fields);
  else if (outcome.result === 'failed') log.warn(`could not ${describeAction(outcome.action)}`, fields);
  else if (outcome.result === 'gone') log.info('session already gone', fields);
  else if (query) log.info('spared session: its runaway statement ended since the snapshot', fields);
  else log.info('spared idle session: it ran a statement since the snapshot', fields);
}

function auditFields(outcome: KillOutcome): Record<string, unknown> {
  return {
    sessionId: outcome.id,
    user: outcome.user,
    host: outcome.host,
    programName: outcome.programName,
    idleSeconds: outcome.idleSeconds,
    inTransaction: outcome.inTransaction,
    reason: outcome.reason,
    action: outcome.action,
    thresholdSeconds: outcome.thresholdSeconds,
    result: outcome.result,
    method: outcome.method,
    ...(outcome.errno === null ? {} : { errno: outcome.errno, errorCode: outcome.errorCode }),
  };
}

function toOutcome(
  candidate: KillCandidate,
  result: KillResult,
  method: KillOutcome['method'],
  error?: unknown,
): KillOutcome {
  const { session } = candidate;
  return {
    id: session.id,
    user: session.user,
    host: session.host,
    db: session.db,
    programName: session.programName,
    idleSeconds: session.timeSeconds,
    inTransaction: session.transactionSeconds !== null,
    reason: candidate.reason,
    action: killAction(candidate.reason),
    thresholdSeconds: candidate.thresholdSeconds,
    result,
    method,
    errno: driverErrno(error) ?? null,
    errorCode: isDriverError(error) ? (error.code ?? null) : null,
  };
}
