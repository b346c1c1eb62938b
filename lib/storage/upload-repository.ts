// SQL for jobs whose file goes straight to S3: create one awaiting its upload, queue it when the
// object arrives (idempotently: S3 delivers events at least once, sometimes late), expire the ones
// whose upload never came, and tell the processor where a job's file lives.

import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { type Db, retryOnDeadlock } from '../db.js';
import { driverErrno } from '../errors.js';
import type { ImportJobRecord, ImportType, Priority } from '../imports/job.js';
import { findJobByBatchId, findJobByIdempotencyKey } from '../imports/job-repository.js';
import type { JobFileLocation } from './job-file.js';

const ER_DUP_ENTRY = 1062;

export type NewUploadJob = {
  readonly batchId: string;
  readonly filename: string;
  readonly importType: ImportType;
  readonly priority: Priority;
  readonly dryRun: boolean;
  readonly maxRetries: number;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly idempotencyKey: string | null;
  readonly bucket: string;
  readonly key: string;
  readonly uploadTtlSeconds: number;
};

/** A job and, while it can still receive one, where its upload goes. */
export type UploadJob = {
  readonly job: ImportJobRecord;
  readonly bucket: string | null;
  readonly key: string | null;
  readonly uploadExpiresAt: Date | null;
};

export type CreateUploadJobResult =
  | { readonly outcome: 'created' | 'existing'; readonly upload: UploadJob }
  | { readonly outcome: 'key-in-use' };

/** Inserts the job as awaiting_upload; when the idempotency key is taken, returns that job instead. */
export async function createUploadJob(db: Db, job: NewUploadJob): Promise<CreateUploadJobResult> {
  if (job.idempotencyKey !== null) {
    const existing = await findJobByIdempotencyKey(db, job.idempotencyKey);
    if (existing !== null) return existingResult(db, existing);
  }
  try {
    // Requests with the same key queued behind an uncommitted insert of it (shared locks on the key)
    // deadlock when that insert rolls back; the victim inserts again and then finds the winner's job.
    await retryOnDeadlock(() =>
      db.query<ResultSetHeader>(
        `INSERT INTO import_jobs
         (batch_id, filename, import_type, status, priority, dry_run, max_retries, metadata, idempotency_key,
          storage, s3_bucket, s3_key, upload_expires_at, queued_at)
       VALUES (?, ?, ?, 'awaiting_upload', ?, ?, ?, ?, ?, 's3', ?, ?, NOW(3) + INTERVAL ? SECOND, NOW(3))`,
        [
          job.batchId,
          job.filename,
          job.importType,
          job.priority,
          job.dryRun ? 1 : 0,
          job.maxRetries,
          JSON.stringify(job.metadata),
          job.idempotencyKey,
          job.bucket,
          job.key,
          job.uploadTtlSeconds,
        ],
      ),
    );
  } catch (error) {
    // A concurrent request with the same key won the insert.
    if (job.idempotencyKey === null || driverErrno(error) !== ER_DUP_ENTRY) throw error;
    const existing = await findJobByIdempotencyKey(db, job.idempotencyKey);
    return existing === null ? { outcome: 'key-in-use' } : existingResult(db, existing);
  }
  const created = await findUploadJob(db, job.batchId);
  if (created === null) return { outcome: 'key-in-use' };
  return { outcome: 'created', upload: created };
}

async function existingResult(db: Db, job: ImportJobRecord): Promise<CreateUploadJobResult> {
  const upload = await findUploadJob(db, job.batchId);
  return upload === null ? { outcome: 'key-in-use' } : { outcome: 'existing', upload };
}

export async function findUploadJob(db: Db, batchId: string): Promise<UploadJob | null> {
  const job = await findJobByBatchId(db, batchId);
  if (job === null) return null;
  const [rows] = await db.query<RowDataPacket[]>(
    'SELECT s3_bucket, s3_key, upload_expires_at FROM import_jobs WHERE batch_id = ?',
    [batchId],
  );
  const row = rows[0];
  return {
    job,
    bucket: typeof row?.s3_bucket === 'string' ? row.s3_bucket : null,
    key: typeof row?.s3_key === 'string' ? row.s3_key : null,
    uploadExpiresAt: row?.upload_expires_at instanceof Date ? row.upload_expires_at : null,
  };
}

/** One object-created record from S3, its key already URL-decoded. */
export type ObjectArrival = {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly sizeBytes: number;
};

/**
 * queued: the job was awaiting this upload and is queued now. duplicate: it was already queued by an
 * event for the same object (same ETag). ignored: the job is no longer awaiting (expired, cancelled)
 * or was queued for a different object. unknown: no job was waiting for this key.
 */
export type ArrivalOutcome = 'queued' | 'duplicate' | 'ignored' | 'unknown';

// The shape uploadObjectKey produces: only such keys (ASCII) ever reach SQL.
const UPLOAD_KEY =
  /^imports\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/[A-Za-z0-9._-]{1,200}$/;

/** The batch id an upload key names, or null for a key no upload URL of ours produces. */
export function batchIdOfKey(key: string): string | null {
  return UPLOAD_KEY.exec(key)?.[1] ?? null;
}

/** One conditional UPDATE: only a job awaiting exactly this bucket and key moves, and only once. */
export async function markUploadArrived(db: Db, arrival: ObjectArrival): Promise<ArrivalOutcome> {
  const batchId = batchIdOfKey(arrival.key);
  if (batchId === null) return 'unknown';
  const [result] = await db.query<ResultSetHeader>(
    `UPDATE import_jobs
        SET status = 'queued', s3_etag = ?, s3_size_bytes = ?, retry_at = NULL
      WHERE batch_id = ? AND status = 'awaiting_upload' AND s3_bucket = ? AND s3_key = ?`,
    [arrival.etag, arrival.sizeBytes, batchId, arrival.bucket, arrival.key],
  );
  if (result.affectedRows === 1) return 'queued';
  const [rows] = await db.query<RowDataPacket[]>(
    'SELECT s3_etag FROM import_jobs WHERE batch_id = ? AND s3_bucket = ? AND s3_key = ?',
    [batchId, arrival.bucket, arrival.key],
  );
  const row = rows[0];
  if (row === undefined) return 'unknown';
  return row.s3_etag === arrival.etag ? 'duplicate' : 'ignored';
}

/**
 * awaiting_upload → expired for jobs whose URL expired more than `marginSeconds` ago (up to `limit`
 * per call); completed_at is set so the retention purge deletes them like any finished job.
 */
export async function expireAbandonedUploads(db: Db, marginSeconds: number, limit: number): Promise<number> {
  const [result] = await db.query<ResultSetHeader>(
    `UPDATE import_jobs
        SET status = 'expired', completed_at = NOW(3),
            error_message = 'The file was never uploaded before the upload URL expired'
      WHERE status = 'awaiting_upload' AND upload_expires_at < NOW(3) - INTERVAL ? SECOND
      ORDER BY upload_expires_at
      LIMIT ?`,
    [marginSeconds, limit],
  );
  return result.affectedRows;
}

/** Where the job's file lives, and the byte offset its checkpoint reached; null for no such job. */
export async function findJobFileLocation(
  db: Db,
  jobId: number,
): Promise<{ readonly location: JobFileLocation; readonly checkpointByteOffset: number } | null> {
  const [rows] = await db.query<RowDataPacket[]>(
    'SELECT storage, s3_bucket, s3_key, s3_etag, checkpoint_byte_offset FROM import_jobs WHERE id = ?',
    [jobId],
  );
  const row = rows[0];
  if (row === undefined) return null;
  const checkpointByteOffset = Number(row.checkpoint_byte_offset);
  if (row.storage === 's3' && typeof row.s3_bucket === 'string' && typeof row.s3_key === 'string') {
    return {
      location: {
        kind: 's3',
        bucket: row.s3_bucket,
        key: row.s3_key,
        etag: typeof row.s3_etag === 'string' ? row.s3_etag : null,
      },
      checkpointByteOffset,
    };
  }
  return { location: { kind: 'database', jobId }, checkpointByteOffset };
}
