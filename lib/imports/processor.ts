// The import processor's domain: claim due jobs one after another on the connection it is given, and
// take each through three stages: set-up (open the file wherever it lives; header → layout and mapper),
// the row loop (records → batches that commit with the job's checkpoint), and finish. A run that stops
// or dies resumes from the last checkpoint's byte offset without duplicating or losing a reading.

import type { S3Client } from '@aws-sdk/client-s3';
import { jobRetryDelaySeconds } from '../backoff.js';
import type { Db } from '../db.js';
import { DatabaseError, isConnectionGone, isDriverError, toDatabaseError } from '../errors.js';
import { logger } from '../logger.js';
import type { JobFileLocation } from '../storage/job-file.js';
import { StorageReadError } from '../storage/storage-read-error.js';
import { StoredFileError } from '../storage/stored-file-error.js';
import { findJobFileLocation } from '../storage/upload-repository.js';
import { BatchWriter, type BatchWriterOptions, leaseSecondsFor, type WriteResult } from './batch-writer.js';
import { type CsvRecord, lineAfter } from './csv-reader.js';
import type { PreparedFile } from './file-setup.js';
import { isFileFormatError } from './formats.js';
import { ImportProgress, type ImportTally } from './import-progress.js';
import type { ImportSummary } from './job.js';
import { JOB_ERROR_CODES, type JobErrorCode, type JobFailure } from './job-error-codes.js';
import { type JobRecords, openJobRecords, type ResumeReport } from './job-records.js';
import {
  type Checkpoint,
  type ClaimedJob,
  claimNextJob,
  failJobPermanently,
  finishJob,
  requeueJob,
} from './processor-repository.js';
import type { QualitySummary } from './quality.js';
import { serverAllowsLocalInfile, siteExists } from './reading-repository.js';
import type { WriteMode } from './write-mode.js';

export type ProcessorOptions = BatchWriterOptions & {
  /** How readings are written (see write-mode.ts). */
  readonly writeMode: WriteMode;
  /**
   * Makes the S3 client for a job whose file is in S3; called at most once per such job, and the
   * client is destroyed when the job is done with. Unset: S3 jobs fail as an internal error.
   */
  readonly createS3Client?: () => S3Client;
};

/**
 * What one run did with one job. The row figures are the job's totals as its last committed
 * checkpoint (or final state) holds them, earlier runs' work included: never rows read but not stored.
 */
export type JobOutcome = {
  readonly batchId: string;
  readonly outcome: 'completed' | 'failed' | 'cancelled' | 'released' | 'requeued';
  readonly processedRows: number;
  readonly importedRows: number;
  readonly failedRows: number;
  /** Why the job failed or was re-queued, as stored on the job (safe to show; no driver text). */
  readonly errorCode?: JobErrorCode;
  readonly detail?: string;
  /** Set when this run continued from the checkpoint's byte offset: how, and how long it took. */
  readonly resumed?: ResumeReport;
};

/** Processes due jobs until none is left or time runs short; returns what happened to each. */
export async function processImports(db: Db, options: ProcessorOptions): Promise<JobOutcome[]> {
  const outcomes: JobOutcome[] = [];
  let bulkLoad: boolean | undefined;
  while (options.remainingMs() > options.stopMarginMs * 2) {
    const job = await claimNextJob(db, options.leaseOwner, leaseSecondsFor(options.remainingMs()));
    if (job === null) break;
    bulkLoad ??=
      options.writeMode === 'auto' ? await serverAllowsLocalInfile(db) : options.writeMode === 'load';
    const outcome = await processJob(db, job, options, bulkLoad);
    outcomes.push(outcome);
    if (outcome.outcome === 'released') break;
  }
  return outcomes;
}

function jobOutcome(
  job: ClaimedJob,
  kind: JobOutcome['outcome'],
  tally: Readonly<ImportTally>,
  failure: JobFailure | undefined,
  resumed?: ResumeReport,
): JobOutcome {
  return {
    batchId: job.batchId,
    outcome: kind,
    processedRows: tally.processed,
    importedRows: tally.imported,
    failedRows: tally.failed,
    ...(failure === undefined ? {} : { errorCode: failure.code, detail: failure.message }),
    ...(resumed === undefined ? {} : { resumed }),
  };
}

/** Owns the job's progress; errors after which the connection is unusable end the run (the lease hands the job on). */
async function processJob(
  db: Db,
  job: ClaimedJob,
  options: ProcessorOptions,
  bulkLoad: boolean,
): Promise<JobOutcome> {
  const progress = new ImportProgress(job.tally);
  const outcome = (kind: JobOutcome['outcome'], failure?: JobFailure) =>
    jobOutcome(job, kind, progress.committed, failure);
  if (job.recovered && job.retryCount > job.maxRetries) {
    const failure = {
      code: JOB_ERROR_CODES.RETRIES_EXHAUSTED,
      message: `The import was interrupted ${job.retryCount} times without finishing`,
    };
    return outcome(await failNow(db, job, options, failure), failure);
  }
  try {
    return await importJobFile(db, job, options, bulkLoad, progress);
  } catch (error) {
    if (isConnectionGone(error)) throw error;
    const fileFailure = failureOfFile(error);
    if (fileFailure !== null) return outcome(await failNow(db, job, options, fileFailure), fileFailure);
    const cause = unexpectedFailure(error);
    // The detail (driver message, errno, stack) is for operators only; the job row gets the code.
    logger.error('import job stopped by an error', {
      batchId: job.batchId,
      errorCode: cause.code,
      retryCount: job.retryCount,
      error: isDriverError(error) ? toDatabaseError(error) : error,
    });
    if (job.retryCount >= job.maxRetries) {
      const failure = {
        code: JOB_ERROR_CODES.RETRIES_EXHAUSTED,
        message: `Gave up after ${job.retryCount} retries: ${cause.message}`,
      };
      return outcome(await failNow(db, job, options, failure, cause.message), failure);
    }
    const delaySeconds = jobRetryDelaySeconds(job.retryCount);
    const requeued = await requeueJob(db, job, options.leaseOwner, cause, delaySeconds);
    return outcome(requeued ? 'requeued' : 'cancelled', cause);
  }
}

/**
 * The file's own fault, which no retry can fix: its content (format), or its upload gone or replaced.
 * The reader's, the header rules' and storage's messages describe the file only: shown as they are.
 */
function failureOfFile(error: unknown): JobFailure | null {
  if (isFileFormatError(error)) {
    return { code: JOB_ERROR_CODES.FORMAT_ERROR, message: error.message.slice(0, 1000) };
  }
  if (error instanceof StoredFileError) {
    const code =
      error.code === 'invalid-gzip' ? JOB_ERROR_CODES.FORMAT_ERROR : JOB_ERROR_CODES.UPLOAD_UNAVAILABLE;
    return { code, message: error.message };
  }
  return null;
}

/** An error no rule expected: a code and a message that name no host, user, table or statement. */
function unexpectedFailure(error: unknown): JobFailure {
  if (error instanceof StorageReadError)
    return { code: JOB_ERROR_CODES.STORAGE_ERROR, message: error.message };
  return isDriverError(error) || error instanceof DatabaseError
    ? { code: JOB_ERROR_CODES.DATABASE_ERROR, message: 'A database error stopped the import' }
    : { code: JOB_ERROR_CODES.INTERNAL_ERROR, message: 'An internal error stopped the import' };
}

/** Fails the job for good; 'cancelled' when it was cancelled or taken over meanwhile (nothing was written). */
async function failNow(
  db: Db,
  job: ClaimedJob,
  options: ProcessorOptions,
  failure: JobFailure,
  lastError = failure.message,
): Promise<'failed' | 'cancelled'> {
  const held = await failJobPermanently(db, job, options.leaseOwner, failure, lastError);
  return held ? 'failed' : 'cancelled';
}

async function importJobFile(
  db: Db,
  job: ClaimedJob,
  options: ProcessorOptions,
  bulkLoad: boolean,
  progress: ImportProgress,
): Promise<JobOutcome> {
  const outcome = (kind: JobOutcome['outcome'], failure?: JobFailure) =>
    jobOutcome(job, kind, progress.committed, failure);
  if (!job.dryRun && job.defaultSiteId !== null && !(await siteExists(db, job.defaultSiteId))) {
    const failure = {
      code: JOB_ERROR_CODES.SITE_NOT_FOUND,
      message: `metadata.default_site_id ${job.defaultSiteId} does not exist`,
    };
    return outcome(await failNow(db, job, options, failure), failure);
  }
  const located = await findJobFileLocation(db, job.id);
  if (located === null) throw new Error(`claimed job ${job.id} has no row`);
  // Like the connection, the S3 client (and its sockets) lives for this job only.
  const s3 = located.location.kind === 's3' ? options.createS3Client?.() : undefined;
  try {
    return await importRecords(db, job, options, bulkLoad, progress, located.location, s3);
  } finally {
    s3?.destroy();
  }
}

async function importRecords(
  db: Db,
  job: ClaimedJob,
  options: ProcessorOptions,
  bulkLoad: boolean,
  progress: ImportProgress,
  location: JobFileLocation,
  s3: S3Client | undefined,
): Promise<JobOutcome> {
  const records = await openJobRecords({ db, s3 }, location, job.importType, job.resumeAt, {
    format: job.format,
    meterCode: job.meterCode,
    tracker: progress.tracker,
  });
  if (records.resumed !== undefined) {
    logger.info('import resumed from its checkpoint', { batchId: job.batchId, ...records.resumed });
  }
  const writer = new BatchWriter(db, job, options, progress, bulkLoad);
  let end: LoopEnd;
  try {
    end = await importRows(job, records, writer, progress);
  } finally {
    // Never leave a batch's transaction running on the connection while the caller moves on, nor
    // the file's stream reading chunks (or holding an S3 socket).
    await writer.settle();
    await records.close();
  }
  if (end !== 'done') return jobOutcome(job, end, progress.committed, undefined, records.resumed);
  return finishImport(db, job, options, records, progress);
}

type LoopEnd = 'done' | 'released' | 'cancelled';

/**
 * The row loop: maps each record after the checkpoint, counts it, and writes it in batches, each
 * checkpointed at its last record (row number, byte offset after it, and the line that follows).
 */
async function importRows(
  job: ClaimedJob,
  records: JobRecords,
  writer: BatchWriter,
  progress: ImportProgress,
): Promise<LoopEnd> {
  const { file } = records;
  let rowNumber = records.from.row;
  let last: CsvRecord | undefined;
  const checkpoint = (): Checkpoint =>
    last === undefined ? records.from : { row: rowNumber, byteOffset: last.endOffset, line: lineAfter(last) };
  for await (const batch of records.batches) {
    for (const record of batch) {
      rowNumber++;
      last = record;
      // Only a job checkpointed before byte offsets were recorded reads (and skips) rows again.
      if (rowNumber <= job.checkpointRow) continue;
      const mapped = file.mapRecord(record.fields);
      progress.countRecord(rowNumber, mapped);
      writer.add(mapped);
      if (writer.isFull()) {
        const flushed = await writer.flush(checkpoint());
        if (flushed !== 'ok') return loopEnd(flushed);
      }
    }
    // Let the batch in flight take its next round trip: parsed input can keep this loop on
    // microtasks alone, and the database would wait for the mapping (docs/design.md#import-pipelining).
    await yieldToIo();
  }
  const flushed = await writer.flush(checkpoint());
  if (flushed !== 'ok') return loopEnd(flushed);
  return loopEnd(await writer.finish());
}

function loopEnd(result: WriteResult | 'out-of-time'): LoopEnd {
  return result === 'ok' ? 'done' : result === 'lost' ? 'cancelled' : 'released';
}

function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Completes the job, or fails it when no row could be imported; every figure is a committed one. */
async function finishImport(
  db: Db,
  job: ClaimedJob,
  options: ProcessorOptions,
  records: JobRecords,
  progress: ImportProgress,
): Promise<JobOutcome> {
  const { file, resumed } = records;
  const tally = progress.committed;
  const message =
    tally.processed === 0
      ? 'No data rows'
      : tally.imported === 0
        ? `No row could be imported: ${tally.failed} of ${tally.processed} rows failed`
        : null;
  const failure = message === null ? null : { code: JOB_ERROR_CODES.FORMAT_ERROR, message };
  const held = await finishJob(db, job, options.leaseOwner, {
    status: failure === null ? 'completed' : 'failed',
    summary: buildSummary(job, file, tally, progress.qualitySummary()),
    totalRows: tally.processed,
    failure,
  });
  const kind = !held ? 'cancelled' : failure === null ? 'completed' : 'failed';
  return jobOutcome(job, kind, tally, failure ?? undefined, resumed);
}

function buildSummary(
  job: ClaimedJob,
  file: PreparedFile,
  tally: Readonly<ImportTally>,
  quality: QualitySummary,
): ImportSummary {
  return {
    records_processed: tally.processed,
    records_imported: tally.imported,
    records_failed: tally.failed,
    errors: [...tally.errors],
    successful: tally.imported > 0,
    batch_id: job.batchId,
    dry_run: job.dryRun,
    ...(job.importType === 'sites' ? {} : { quality }),
    meta: {
      format: file.layoutName,
      column_mapping: file.columnMapping,
      unit_counts: { ...tally.unitCounts },
      ...(job.importType === 'sites'
        ? { sites_created: tally.sitesCreated }
        : job.dryRun
          ? { readings_to_write: tally.readingsWritten, meters_to_create: tally.metersToCreate.length }
          : { readings_written: tally.readingsWritten, meters_created: tally.metersCreated }),
    },
  };
}
