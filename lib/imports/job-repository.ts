// All SQL the HTTP API runs against import_jobs: create (job row and stored file in one transaction),
// look up, list (keyset pages), cancel, retry and the queue's health numbers. Takes the connection
// it is given; opening and ending it is withConnection's job.

import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { type Db, retryOnDeadlock } from '../db.js';
import { withTransaction } from '../db-transaction.js';
import { AppError, isDriverError } from '../errors.js';
import { storeFileChunks } from './file-store.js';
import {
  decodeJsonColumn,
  IMPORT_TYPES,
  type ImportJobRecord,
  type ImportSummary,
  type ImportType,
  JOB_STATUSES,
  type JobStatus,
  PRIORITIES,
  type Priority,
} from './job.js';
import { CONTENT_ERROR_CODES } from './job-error-codes.js';

/** Never lease_owner, idempotency_key, user_id or checkpoint_state: nothing the API may show or use. */
const JOB_COLUMNS = `id, batch_id, filename, import_type, status, priority, dry_run, total_rows,
  processed_rows, imported_rows, failed_rows, retry_count, max_retries, retry_at, summary,
  error_message, error_code, last_error, notes, tags, metadata, queued_at, started_at, completed_at, updated_at`;

const ER_DUP_ENTRY = 1062;

export type NewJob = {
  readonly batchId: string;
  readonly filename: string;
  readonly importType: ImportType;
  readonly priority: Priority;
  readonly dryRun: boolean;
  readonly maxRetries: number;
  readonly totalRows: number;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Stored as given (the API stores a digest of the caller's key), unique across jobs. */
  readonly idempotencyKey: string | null;
  /** The uploaded file as one gzip stream. */
  readonly gzippedFile: Buffer;
};

export type CreateJobResult =
  | { readonly outcome: 'created' | 'existing'; readonly job: ImportJobRecord }
  /** The key's job was there when the insert ran but is gone now (deleted meanwhile): rare, retryable. */
  | { readonly outcome: 'key-in-use' };

export class JobRowError extends AppError {}

/**
 * Inserts the queued job and its file in one transaction, so the processor never sees a job without
 * its file. When the idempotency key is taken (also by a concurrent request), returns that job instead.
 */
export async function createJob(db: Db, job: NewJob): Promise<CreateJobResult> {
  try {
    // Requests with the same key queued behind an uncommitted insert of it (shared locks on the key)
    // deadlock when that insert rolls back; the victim's transaction is redone and then meets the
    // winner's key as a duplicate.
    await retryOnDeadlock(() =>
      withTransaction(db, async () => {
        const [result] = await db.query<ResultSetHeader>(
          `INSERT INTO import_jobs
           (batch_id, filename, import_type, status, priority, dry_run, total_rows, max_retries, metadata,
            idempotency_key, queued_at)
         VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, NOW(3))`,
          [
            job.batchId,
            job.filename,
            job.importType,
            job.priority,
            job.dryRun ? 1 : 0,
            job.totalRows,
            job.maxRetries,
            JSON.stringify(job.metadata),
            job.idempotencyKey,
          ],
        );
        await storeFileChunks(db, result.insertId, job.gzippedFile);
      }),
    );
  } catch (error) {
    if (job.idempotencyKey !== null && isDuplicateKey(error, 'uq_import_jobs_idempotency')) {
      const existing = await findJobByIdempotencyKey(db, job.idempotencyKey);
      return existing === null ? { outcome: 'key-in-use' } : { outcome: 'existing', job: existing };
    }
    throw error;
  }
  const created = await findJobByBatchId(db, job.batchId);
  if (created === null) throw new JobRowError(`Job ${job.batchId} vanished right after it was created`);
  return { outcome: 'created', job: created };
}

export async function findJobByBatchId(db: Db, batchId: string): Promise<ImportJobRecord | null> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT ${JOB_COLUMNS} FROM import_jobs WHERE batch_id = ?`,
    [batchId],
  );
  return rows[0] === undefined ? null : toJobRecord(rows[0]);
}

export async function findJobByIdempotencyKey(
  db: Db,
  idempotencyKey: string,
): Promise<ImportJobRecord | null> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT ${JOB_COLUMNS} FROM import_jobs WHERE idempotency_key = ?`,
    [idempotencyKey],
  );
  return rows[0] === undefined ? null : toJobRecord(rows[0]);
}

/** Where the previous page ended: its last job's queued_at and batch_id. */
export type JobPosition = { readonly queuedAt: Date; readonly batchId: string };

export type ListJobsQuery = {
  readonly status: JobStatus | undefined;
  readonly limit: number;
  readonly after: JobPosition | undefined;
};

/**
 * Newest first (queued_at, then id, both descending), keyset-paged: the page after `after`, never an
 * OFFSET. Returns up to limit + 1 jobs so the caller can tell whether another page follows.
 */
export async function listJobs(db: Db, query: ListJobsQuery): Promise<ImportJobRecord[]> {
  const conditions: string[] = [];
  const values: unknown[] = [];
  if (query.status !== undefined) {
    conditions.push('status = ?');
    values.push(query.status);
  }
  if (query.after !== undefined) {
    // The cursor names a batch_id, not the numeric id; if that job has since been deleted, jobs queued
    // in the very same millisecond are skipped rather than shown twice.
    conditions.push(`(queued_at < ? OR (queued_at = ? AND id < COALESCE(
        (SELECT position.id FROM import_jobs AS position WHERE position.batch_id = ?), 0)))`);
    values.push(query.after.queuedAt, query.after.queuedAt, query.after.batchId);
  }
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT ${JOB_COLUMNS} FROM import_jobs ${where} ORDER BY queued_at DESC, id DESC LIMIT ?`,
    [...values, query.limit + 1],
  );
  return rows.map(toJobRecord);
}

export type JobTransition =
  | { readonly outcome: 'done'; readonly job: ImportJobRecord }
  | { readonly outcome: 'not-found' }
  | { readonly outcome: 'conflict'; readonly job: ImportJobRecord; readonly fileStored: boolean };

/**
 * queued/processing → cancelled in one conditional UPDATE. Clearing the lease makes a processor's
 * checkpoint UPDATE (`WHERE status = 'processing' AND lease_owner = ?`) match nothing, so it stops and
 * can never overwrite the cancellation.
 */
export async function cancelJob(db: Db, batchId: string): Promise<JobTransition> {
  // A processor finishing the same row at the same moment can make this the deadlock victim.
  const [result] = await retryOnDeadlock(() =>
    db.query<ResultSetHeader>(
      `UPDATE import_jobs
          SET status = 'cancelled', completed_at = NOW(3), lease_owner = NULL, lease_expires_at = NULL,
              retry_at = NULL
        WHERE batch_id = ? AND status IN ('awaiting_upload', 'queued', 'processing')`,
      [batchId],
    ),
  );
  return transitionResult(db, batchId, result.affectedRows === 1);
}

/**
 * failed/cancelled → queued, with retries, counters, checkpoint and results reset (last_error and
 * error_code kept),
 * in one conditional UPDATE that also requires the stored file still to be there.
 */
export async function retryJob(db: Db, batchId: string): Promise<JobTransition> {
  const [result] = await db.query<ResultSetHeader>(
    `UPDATE import_jobs
        SET status = 'queued', retry_count = 0, retry_at = NULL, processed_rows = 0, imported_rows = 0,
            failed_rows = 0, checkpoint_row = 0, checkpoint_byte_offset = 0, checkpoint_state = NULL, summary = NULL,
            error_message = NULL, lease_owner = NULL, lease_expires_at = NULL, started_at = NULL,
            completed_at = NULL
      WHERE batch_id = ? AND status IN ('failed', 'cancelled')
        AND ((storage = 's3' AND s3_etag IS NOT NULL)
          OR EXISTS (SELECT 1 FROM import_file_chunks AS chunk WHERE chunk.job_id = import_jobs.id))`,
    [batchId],
  );
  return transitionResult(db, batchId, result.affectedRows === 1);
}

async function transitionResult(db: Db, batchId: string, changed: boolean): Promise<JobTransition> {
  const job = await findJobByBatchId(db, batchId);
  if (job === null) return { outcome: 'not-found' };
  if (changed) return { outcome: 'done', job };
  const [rows] = await db.query<RowDataPacket[]>(
    'SELECT EXISTS (SELECT 1 FROM import_file_chunks WHERE job_id = ?) AS stored',
    [job.id],
  );
  return { outcome: 'conflict', job, fileStored: Number(rows[0]?.stored) === 1 };
}

export type ImportQueueStats = {
  readonly queued: number;
  readonly processing: number;
  /** Processing with an expired lease, or processing for more than the stuck threshold. */
  readonly stuck: number;
  readonly failedLast24h: number;
  /** Of those, the failures the system caused (isSystemFailure): what the failure rate counts. */
  readonly systemFailedLast24h: number;
  /** Completed or failed in the last 24 h (cancelled jobs are neither a success nor a failure). */
  readonly finishedLast24h: number;
};

export const STUCK_AFTER_MINUTES = 60;

const SCHEMA_NAME = /^[A-Za-z0-9_]{1,64}$/;

/**
 * The queue's numbers in one statement, timed by the database clock that also sets the leases. The
 * monitor, whose connection has no default schema, names the app's schema (validated, then quoted).
 */
export async function importQueueHealth(db: Db, schema?: string): Promise<ImportQueueStats> {
  // An identifier cannot be a placeholder: a schema comes from DB_NAME and must be a plain name.
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new AppError('The import schema name is not a plain identifier');
  }
  const table = schema === undefined ? 'import_jobs' : `\`${schema}\`.import_jobs`;
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT
       COALESCE(SUM(status = 'queued'), 0) AS queued,
       COALESCE(SUM(status = 'processing'), 0) AS processing,
       COALESCE(SUM(status = 'processing' AND (lease_expires_at < NOW(3)
         OR started_at < NOW(3) - INTERVAL ? MINUTE)), 0) AS stuck,
       COALESCE(SUM(status = 'failed' AND completed_at >= NOW(3) - INTERVAL 24 HOUR), 0) AS failed_24h,
       COALESCE(SUM(status = 'failed' AND completed_at >= NOW(3) - INTERVAL 24 HOUR
         AND (error_code IS NULL OR error_code NOT IN (?))), 0) AS system_failed_24h,
       COALESCE(SUM(status IN ('completed', 'failed') AND completed_at >= NOW(3) - INTERVAL 24 HOUR), 0)
         AS finished_24h
     FROM ${table}
     WHERE status IN ('queued', 'processing') OR completed_at >= NOW(3) - INTERVAL 24 HOUR`,
    [STUCK_AFTER_MINUTES, CONTENT_ERROR_CODES],
  );
  const row = rows[0];
  return {
    queued: Number(row?.queued ?? 0),
    processing: Number(row?.processing ?? 0),
    stuck: Number(row?.stuck ?? 0),
    failedLast24h: Number(row?.failed_24h ?? 0),
    systemFailedLast24h: Number(row?.system_failed_24h ?? 0),
    finishedLast24h: Number(row?.finished_24h ?? 0),
  };
}

function isDuplicateKey(error: unknown, keyName: string): boolean {
  return (
    isDriverError(error) &&
    error.errno === ER_DUP_ENTRY &&
    (error.sqlMessage ?? error.message).includes(keyName)
  );
}

function toJobRecord(row: RowDataPacket): ImportJobRecord {
  return {
    id: Number(row.id),
    batchId: text(row, 'batch_id'),
    filename: text(row, 'filename'),
    importType: oneOf(row, 'import_type', IMPORT_TYPES),
    status: oneOf(row, 'status', JOB_STATUSES),
    priority: oneOf(row, 'priority', PRIORITIES),
    dryRun: Number(row.dry_run) === 1,
    totalRows: row.total_rows === null ? null : Number(row.total_rows),
    processedRows: Number(row.processed_rows),
    importedRows: Number(row.imported_rows),
    failedRows: Number(row.failed_rows),
    retryCount: Number(row.retry_count),
    maxRetries: Number(row.max_retries),
    retryAt: dateOrNull(row, 'retry_at'),
    summary: summaryOrNull(decodeJsonColumn(row.summary)),
    errorMessage: textOrNull(row, 'error_message'),
    errorCode: textOrNull(row, 'error_code'),
    lastError: textOrNull(row, 'last_error'),
    notes: textOrNull(row, 'notes'),
    tags: decodeJsonColumn(row.tags),
    metadata: objectOrNull(decodeJsonColumn(row.metadata)),
    queuedAt: date(row, 'queued_at'),
    startedAt: dateOrNull(row, 'started_at'),
    completedAt: dateOrNull(row, 'completed_at'),
    updatedAt: date(row, 'updated_at'),
  };
}

function text(row: RowDataPacket, column: string): string {
  const value: unknown = row[column];
  if (typeof value !== 'string') throw new JobRowError(`import_jobs.${column} is not text`);
  return value;
}

function textOrNull(row: RowDataPacket, column: string): string | null {
  return row[column] === null ? null : text(row, column);
}

function oneOf<T extends string>(row: RowDataPacket, column: string, allowed: readonly T[]): T {
  const value = text(row, column);
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw new JobRowError(`import_jobs.${column} holds an unknown value`);
  return found;
}

function date(row: RowDataPacket, column: string): Date {
  const value: unknown = row[column];
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new JobRowError(`import_jobs.${column} is not a date`);
  }
  return value;
}

function dateOrNull(row: RowDataPacket, column: string): Date | null {
  return row[column] === null ? null : date(row, column);
}

function objectOrNull(value: unknown): Record<string, unknown> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return Object.fromEntries(Object.entries(value));
}

function summaryOrNull(value: unknown): ImportSummary | null {
  const summary = objectOrNull(value);
  // Written by the processor in the ImportSummary shape; checked only as far as the API relies on it.
  return summary !== null && typeof summary.records_processed === 'number'
    ? (summary as ImportSummary)
    : null;
}
