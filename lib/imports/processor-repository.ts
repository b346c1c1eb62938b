// SQL for the processor's side of an import job: the atomic claim with a lease, the checkpoint that
// commits with each batch, and the final, released, re-queued and purged states. Every write after
// the claim is conditional on the caller still holding the lease, so a cancel is never overwritten.

import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { type Db, retryOnDeadlock } from '../db.js';
import { withTransaction } from '../db-transaction.js';
import { emptyTally, type ImportTally } from './import-progress.js';
import { decodeJsonColumn, type ImportSummary, type ImportType } from './job.js';
import type { JobFailure } from './job-error-codes.js';

/**
 * Where a job's committed work ends in its file: the last committed data row, the byte offset just
 * after that record (a resumed run reads on from there), and the line number the next one starts on.
 * See docs/design.md#resuming-a-streamed-upload.
 */
export type Checkpoint = { readonly row: number; readonly byteOffset: number; readonly line: number };

export type ClaimedJob = {
  readonly id: number;
  readonly batchId: string;
  readonly importType: ImportType;
  readonly dryRun: boolean;
  readonly totalRows: number | null;
  readonly retryCount: number;
  readonly maxRetries: number;
  readonly checkpointRow: number;
  /**
   * Set when the checkpoint also holds a byte offset (every checkpoint written since offsets exist);
   * null: read from the start and skip `checkpointRow` rows.
   */
  readonly resumeAt: Checkpoint | null;
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
              checkpoint_byte_offset, checkpoint_state, metadata, status
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
  const state = decodeJsonColumn(row.checkpoint_state);
  return {
    id: Number(row.id),
    batchId: String(row.batch_id),
    importType: row.import_type as ImportType,
    dryRun: Number(row.dry_run) === 1,
    totalRows: row.total_rows === null ? null : Number(row.total_rows),
    retryCount: Number(row.retry_count) + (recovered ? 1 : 0),
    maxRetries: Number(row.max_retries),
    checkpointRow: Number(row.checkpoint_row),
    resumeAt: parseResumePoint(Number(row.checkpoint_row), Number(row.checkpoint_byte_offset), state),
    tally: parseTally(state),
    defaultSiteId: Number.isSafeInteger(defaultSiteId) && defaultSiteId > 0 ? defaultSiteId : null,
    format: typeof fields.format === 'string' ? fields.format : undefined,
    meterCode: typeof fields.meter === 'string' ? fields.meter : undefined,
    recovered,
  };
}

// The checkpoint's line number rides in checkpoint_state beside the tally (no column of its own).
const NEXT_LINE_KEY = 'nextLine';

function parseTally(value: unknown): ImportTally | null {
  if (typeof value !== 'object' || value === null) return null;
  const { [NEXT_LINE_KEY]: _line, ...tally } = value as Partial<ImportTally> & { [NEXT_LINE_KEY]?: unknown };
  return { ...emptyTally(), ...tally };
}

function parseResumePoint(row: number, byteOffset: number, state: unknown): Checkpoint | null {
  if (row <= 0 || !Number.isSafeInteger(byteOffset) || byteOffset <= 0) return null;
  const line = typeof state === 'object' && state !== null ? Number(Reflect.get(state, NEXT_LINE_KEY)) : 0;
  return Number.isSafeInteger(line) && line > 1 ? { row, byteOffset, line } : null;
}

/**
 * Records that every data row up to the checkpoint is committed, inside the caller's transaction (so
 * its byte offset is never ahead of the rows it stands for), and extends the lease. False when the job
 * was cancelled or taken over: the caller must roll back.
 */
export async function saveCheckpoint(
  db: Db,
  job: ClaimedJob,
  leaseOwner: string,
  checkpoint: Checkpoint,
  tally: ImportTally,
  leaseSeconds: number,
): Promise<boolean> {
  const [result] = await db.query<ResultSetHeader>(
    `UPDATE import_jobs
        SET checkpoint_row = ?, checkpoint_byte_offset = ?, checkpoint_state = ?,
            processed_rows = ?, imported_rows = ?, failed_rows = ?,
            lease_expires_at = NOW(3) + INTERVAL ? SECOND
      WHERE id = ? AND status = 'processing' AND lease_owner = ?`,
    [
      checkpoint.row,
      checkpoint.byteOffset,
      JSON.stringify({ ...tally, [NEXT_LINE_KEY]: checkpoint.line }),
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

/**
 * Deletes up to `limit` jobs finished (or expired awaiting their upload) more than `retentionDays` ago;
 * their file chunks cascade. S3 objects are left to the bucket's lifecycle rule.
 */
export async function purgeFinishedJobs(db: Db, retentionDays: number, limit: number): Promise<number> {
  const [result] = await db.query<ResultSetHeader>(
    `DELETE FROM import_jobs
      WHERE status IN ('completed', 'failed', 'cancelled', 'expired') AND completed_at < NOW(3) - INTERVAL ? DAY
      ORDER BY completed_at
      LIMIT ?`,
    [retentionDays, limit],
  );
  return result.affectedRows;
}
