// SQL for the processor's side of an import job: the atomic claim with a lease, the checkpoint that
// commits with each batch, and the final, released, re-queued and purged states. Every write after
// the claim is conditional on the caller still holding the lease, so a cancel is never overwritten.

import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { type Db, retryOnDeadlock } from '../db.js';
import { withTransaction } from '../db-transaction.js';
import { emptyTally, type ImportTally } from './import-progress.js';
import { decodeJsonColumn, type ImportSummary, type ImportType } from './job.js';
import type { JobFailure } from './job-error-codes.js';

export type ClaimedJob = {
  readonly id: number;
  readonly batchId: string;
  readonly importType: ImportType;
  readonly dryRun: boolean;
  readonly totalRows: number | null;
  readonly retryCount: number;
  readonly maxRetries: number;
  readonly checkpointRow: number;
  readonly tally: ImportTally | null;
  readonly defaultSiteId: number | null;
  /** The upload's `format` and `meter` parameters (metadata), for the layout registry. */
  readonly format: string | undefined;
  readonly meterCode: string | undefined;
  /** True when the job was taken over from a run whose lease expired (it crashed or was killed). */
  readonly recovered: boolean;
};

/**
 * Claims the next due job: queued with retry_at due, or processing with an expired lease; priority
 * first, then the oldest. SKIP LOCKED lets concurrent claimers pass each other without waiting, and the
 * row lock held to the UPDATE means two runs can never take the same job.
 */
export async function claimNextJob(
  db: Db,
  leaseOwner: string,
  leaseSeconds: number,
): Promise<ClaimedJob | null> {
  // Two claimers can deadlock on the claim index's entries (InnoDB then rolls one back whole): the
  // claim is a fresh transaction each time, so the victim simply claims again.
  const row = await retryOnDeadlock(() =>
    withTransaction(db, async () => {
      const [rows] = await db.query<RowDataPacket[]>(
        `SELECT id, batch_id, import_type, dry_run, total_rows, retry_count, max_retries, checkpoint_row,
              checkpoint_state, metadata, status
         FROM import_jobs
        WHERE (status = 'queued' AND (retry_at IS NULL OR retry_at <= NOW(3)))
           OR (status = 'processing' AND lease_expires_at < NOW(3))
        ORDER BY priority DESC, queued_at, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED`,
      );
      const due = rows[0];
      if (due === undefined) return null;
      await db.query(
        `UPDATE import_jobs
          SET status = 'processing', lease_owner = ?, lease_expires_at = NOW(3) + INTERVAL ? SECOND,
              started_at = COALESCE(started_at, NOW(3)), retry_at = NULL,
              retry_count = retry_count + ?
        WHERE id = ?`,
        [leaseOwner, leaseSeconds, due.status === 'processing' ? 1 : 0, due.id],
      );
      return due;
    }),
  );
  if (row === null) return null;
  const recovered = row.status === 'processing';
  const metadata = decodeJsonColumn(row.metadata);
  const fields: Record<string, unknown> =
    typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {};
  const defaultSiteId = 'default_site_id' in fields ? Number(fields.default_site_id) : Number.NaN;
  return {
    id: Number(row.id),
    batchId: String(row.batch_id),
    importType: row.import_type as ImportType,
    dryRun: Number(row.dry_run) === 1,
    totalRows: row.total_rows === null ? null : Number(row.total_rows),
    retryCount: Number(row.retry_count) + (recovered ? 1 : 0),
    maxRetries: Number(row.max_retries),
    checkpointRow: Number(row.checkpoint_row),
    tally: parseTally(decodeJsonColumn(row.checkpoint_state)),
    defaultSiteId: Number.isSafeInteger(defaultSiteId) && defaultSiteId > 0 ? defaultSiteId : null,
    format: typeof fields.format === 'string' ? fields.format : undefined,
    meterCode: typeof fields.meter === 'string' ? fields.meter : undefined,
    recovered,
  };
}

function parseTally(value: unknown): ImportTally | null {
  if (typeof value !== 'object' || value === null) return null;
  return { ...emptyTally(), ...(value as Partial<ImportTally>) };
}

/**
 * Records that every data row up to `checkpointRow` is committed, inside the caller's transaction, and
 * extends the lease. False when the job was cancelled or taken over: the caller must roll back.
 */
export async function saveCheckpoint(
  db: Db,
  job: ClaimedJob,
  leaseOwner: string,
  checkpointRow: number,
  tally: ImportTally,
  leaseSeconds: number,
): Promise<boolean> {
  const [result] = await db.query<ResultSetHeader>(
    `UPDATE import_jobs
        SET checkpoint_row = ?, checkpoint_state = ?, processed_rows = ?, imported_rows = ?, failed_rows = ?,
            lease_expires_at = NOW(3) + INTERVAL ? SECOND
      WHERE id = ? AND status = 'processing' AND lease_owner = ?`,
    [
      checkpointRow,
      JSON.stringify(tally),
      tally.processed,
      tally.imported,
      tally.failed,
      leaseSeconds,
      job.id,
      leaseOwner,
    ],
  );
  return result.affectedRows === 1;
}

export type FinalState = {
  readonly status: 'completed' | 'failed';
  readonly summary: ImportSummary;
  readonly totalRows: number;
  /** Why a 'failed' job failed; null for 'completed'. */
  readonly failure: JobFailure | null;
};

/**
 * Completes or fails the job; a no-op (false) when it was cancelled or taken over meanwhile. These
 * final statements stand alone, so a deadlock with a concurrent cancel re-runs them (retryOnDeadlock).
 */
export async function finishJob(
  db: Db,
  job: ClaimedJob,
  leaseOwner: string,
  final: FinalState,
): Promise<boolean> {
  const [result] = await retryOnDeadlock(() =>
    db.query<ResultSetHeader>(
      `UPDATE import_jobs
        SET status = ?, summary = ?, error_message = ?, error_code = ?, total_rows = ?,
            processed_rows = ?, imported_rows = ?, failed_rows = ?,
            completed_at = NOW(3), lease_owner = NULL, lease_expires_at = NULL, checkpoint_state = NULL
      WHERE id = ? AND status = 'processing' AND lease_owner = ?`,
      [
        final.status,
        JSON.stringify(final.summary),
        final.failure?.message ?? null,
        final.failure?.code ?? null,
        final.totalRows,
        final.summary.records_processed,
        final.summary.records_imported,
        final.summary.records_failed,
        job.id,
        leaseOwner,
      ],
    ),
  );
  return result.affectedRows === 1;
}

/**
 * Fails the job at once with no retry (the file itself is at fault, or its retries are spent).
 * `lastError` is the latest error's message when it differs from the failure's own.
 */
export async function failJobPermanently(
  db: Db,
  job: ClaimedJob,
  leaseOwner: string,
  failure: JobFailure,
  lastError = failure.message,
): Promise<boolean> {
  const [result] = await retryOnDeadlock(() =>
    db.query<ResultSetHeader>(
      `UPDATE import_jobs
        SET status = 'failed', error_message = ?, error_code = ?, last_error = ?, completed_at = NOW(3),
            lease_owner = NULL, lease_expires_at = NULL
      WHERE id = ? AND status = 'processing' AND lease_owner = ?`,
      [failure.message, failure.code, lastError, job.id, leaseOwner],
    ),
  );
  return result.affectedRows === 1;
}

/** Hands the job back for the next run to resume from its checkpoint (this run is out of time). */
export async function releaseJob(db: Db, job: ClaimedJob, leaseOwner: string): Promise<boolean> {
  const [result] = await retryOnDeadlock(() =>
    db.query<ResultSetHeader>(
      `UPDATE import_jobs
        SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, retry_at = NULL
      WHERE id = ? AND status = 'processing' AND lease_owner = ?`,
      [job.id, leaseOwner],
    ),
  );
  return result.affectedRows === 1;
}

/**
 * After a transient error with retries left: back to queued with retry_at = now + `delaySeconds`,
 * the error's message kept in last_error and its code in error_code. False when the job was
 * cancelled or taken over meanwhile.
 */
export async function requeueJob(
  db: Db,
  job: ClaimedJob,
  leaseOwner: string,
  error: JobFailure,
  delaySeconds: number,
): Promise<boolean> {
  const [result] = await retryOnDeadlock(() =>
    db.query<ResultSetHeader>(
      `UPDATE import_jobs
        SET status = 'queued', retry_count = retry_count + 1, retry_at = NOW(3) + INTERVAL ? SECOND,
            last_error = ?, error_code = ?, lease_owner = NULL, lease_expires_at = NULL
      WHERE id = ? AND status = 'processing' AND lease_owner = ?`,
      [delaySeconds, error.message, error.code, job.id, leaseOwner],
    ),
  );
  return result.affectedRows === 1;
}

/** Deletes up to `limit` jobs finished more than `retentionDays` ago (their file chunks cascade). */
export async function purgeFinishedJobs(db: Db, retentionDays: number, limit: number): Promise<number> {
  const [result] = await db.query<ResultSetHeader>(
    `DELETE FROM import_jobs
      WHERE status IN ('completed', 'failed', 'cancelled') AND completed_at < NOW(3) - INTERVAL ? DAY
      ORDER BY completed_at
      LIMIT ?`,
    [retentionDays, limit],
  );
  return result.affectedRows;
}
