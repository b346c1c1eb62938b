// Carries out the kill policy: re-reads the candidates right before killing (a session that woke up
// is spared), kills the rest one by one, and writes one audit line per kill, failure or dry-run entry.

import type { Db } from '../db.js';
import { driverErrno, isDriverError } from '../errors.js';
import {
  ER_KILL_DENIED_ERROR,
  ER_NO_SUCH_THREAD,
  killConnection,
  rdsKill,
  rdsKillExists,
} from './kill-repository.js';
import { decideKill, type KillCandidate, type KillPolicy, type KillReason } from './policy.js';
import { readSessionsById } from './snapshot-repository.js';

/** Where audit lines go: the Lambda's logger, or stderr for the CLI. */
export type AuditLog = {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
};

export type KillResult = 'killed' | 'gone' | 'failed' | 'would-kill' | 'spared';

export type KillOutcome = {
  readonly id: number;
  readonly user: string;
  readonly host: string;
  readonly db: string | null;
  readonly idleSeconds: number;
  readonly inTransaction: boolean;
  readonly reason: KillReason;
  readonly thresholdSeconds: number;
  /** killed; gone (ended by itself first: 1094 or absent on re-check); failed; would-kill (dry run); spared (busy again). */
  readonly result: KillResult;
  readonly method: 'kill' | 'rds_kill' | null;
  readonly errno: number | null;
  readonly errorCode: string | null;
};

export async function killSessions(
  db: Db,
  candidates: readonly KillCandidate[],
  options: { readonly dryRun: boolean; readonly policy: KillPolicy; readonly log: AuditLog },
): Promise<KillOutcome[]> {
  if (options.dryRun) {
    return candidates.map((candidate) => {
      const outcome = toOutcome(candidate, 'would-kill', null);
      options.log.info('would kill idle session (dry run)', auditFields(outcome));
      return outcome;
    });
  }
  // The snapshot may be a few milliseconds old: spare any candidate that ran a statement since.
  const fresh = new Map(
    (
      await readSessionsById(
        db,
        candidates.map((candidate) => candidate.session.id),
        options.policy.transactionsVisible,
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
      !options.policy.targetUsers.includes(row.user)
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

/** Whether mysql.rds_kill exists, looked up once per run and only after a KILL was denied. */
export type RdsKillCache = { rdsKillAvailable: boolean | undefined };

/**
 * Kills one session: KILL CONNECTION; 1094 (already ended) counts as gone; 1095 (denied) falls back
 * to mysql.rds_kill where it exists, else is a failure. A fatal error (connection lost) is thrown.
 */
export async function killCandidate(
  db: Db,
  candidate: KillCandidate,
  rds: RdsKillCache,
): Promise<KillOutcome> {
  try {
    await killConnection(db, candidate.session.id);
    return toOutcome(candidate, 'killed', 'kill');
  } catch (error) {
    const errno = driverErrno(error);
    if (errno === ER_NO_SUCH_THREAD) return toOutcome(candidate, 'gone', 'kill', error);
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
    await rdsKill(db, candidate.session.id);
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
  if (outcome.result === 'killed') log.info('killed idle session', fields);
  else if (outcome.result === 'failed') log.warn('could not kill idle session', fields);
  else if (outcome.result === 'gone') log.info('idle session already gone', fields);
  else log.info('spared idle session: it ran a statement since the snapshot', fields);
}

function auditFields(outcome: KillOutcome): Record<string, unknown> {
  return {
    sessionId: outcome.id,
    user: outcome.user,
    host: outcome.host,
    idleSeconds: outcome.idleSeconds,
    inTransaction: outcome.inTransaction,
    reason: outcome.reason,
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
    idleSeconds: session.timeSeconds,
    inTransaction: session.transactionSeconds !== null,
    reason: candidate.reason,
    thresholdSeconds: candidate.thresholdSeconds,
    result,
    method,
    errno: driverErrno(error) ?? null,
    errorCode: isDriverError(error) ? (error.code ?? null) : null,
  };
}
