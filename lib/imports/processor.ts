// The import processor's domain: claim due jobs one after another on the connection it is given, and
// take each through three stages: set-up (header → layout and mapper), the row loop (records → batches
// that commit with the job's checkpoint), and finish. A run that stops or dies resumes from the last
// checkpoint without duplicating or losing a reading.

import { jobRetryDelaySeconds } from '../backoff.js';
import type { Db } from '../db.js';
import { DatabaseError, isConnectionGone, isDriverError, toDatabaseError } from '../errors.js';
import { logger } from '../logger.js';
import { BatchWriter, type BatchWriterOptions, leaseSecondsFor, type WriteResult } from './batch-writer.js';
import { type CsvRecord, readCsvRecordBatches } from './csv-reader.js';
import { type PreparedFile, setUpFile } from './file-setup.js';
import { openStoredFile } from './file-store.js';
import { isFileFormatError } from './formats.js';
import { ImportProgress, type ImportTally } from './import-progress.js';
import type { ImportSummary } from './job.js';
import { JOB_ERROR_CODES, type JobErrorCode, type JobFailure } from './job-error-codes.js';
import {
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
): JobOutcome {
  return {
    batchId: job.batchId,
    outcome: kind,
    processedRows: tally.processed,
    importedRows: tally.imported,
    failedRows: tally.failed,
    ...(failure === undefined ? {} : { errorCode: failure.code, detail: failure.message }),
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
    if (isFileFormatError(error)) {
      // The reader's and the header rules' messages describe the file only: shown as they are.
      const failure = { code: JOB_ERROR_CODES.FORMAT_ERROR, message: error.message.slice(0, 1000) };
      return outcome(await failNow(db, job, options, failure), failure);
    }
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

/** An error no rule expected: a code and a message that name no host, user, table or statement. */
function unexpectedFailure(error: unknown): JobFailure {
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
  const batches = readCsvRecordBatches(openStoredFile(db, job.id));
  const writer = new BatchWriter(db, job, options, progress, bulkLoad);
  let file: PreparedFile;
  let end: LoopEnd;
  try {
    const start = await setUpFile(job.importType, batches, {
      format: job.format,
      meterCode: job.meterCode,
      tracker: progress.tracker,
    });
    file = start.file;
    end = await importRows(job, file, prepend(start.firstRecords, batches), writer, progress);
  } finally {
    // Never leave a batch's transaction running on the connection while the caller moves on, nor
    // the file's stream reading chunks.
    await writer.settle();
    await batches.return(undefined);
  }
  if (end !== 'done') return outcome(end);
  return finishImport(db, job, options, file, progress);
}

type LoopEnd = 'done' | 'released' | 'cancelled';

/** The row loop: maps each record after the checkpoint, counts it, and writes it in batches. */
async function importRows(
  job: ClaimedJob,
  file: PreparedFile,
  batches: AsyncIterable<readonly CsvRecord[]>,
  writer: BatchWriter,
  progress: ImportProgress,
): Promise<LoopEnd> {
  let rowNumber = 0;
  for await (const records of batches) {
    for (const record of records) {
      rowNumber++;
      if (rowNumber <= job.checkpointRow) continue;
      const mapped = file.mapRecord(record.fields);
      progress.countRecord(rowNumber, mapped);
      writer.add(mapped);
      if (writer.isFull()) {
        const flushed = await writer.flush(rowNumber);
        if (flushed !== 'ok') return loopEnd(flushed);
      }
    }
    // Let the batch in flight take its next round trip: parsed input can keep this loop on
    // microtasks alone, and the database would wait for the mapping (docs/design.md#import-pipelining).
    await yieldToIo();
  }
  const flushed = await writer.flush(rowNumber);
  if (flushed !== 'ok') return loopEnd(flushed);
  return loopEnd(await writer.finish());
}

function loopEnd(result: WriteResult | 'out-of-time'): LoopEnd {
  return result === 'ok' ? 'done' : result === 'lost' ? 'cancelled' : 'released';
}

function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function* prepend<T>(first: T, rest: AsyncIterable<T>): AsyncGenerator<T> {
  yield first;
  yield* rest;
}

/** Completes the job, or fails it when no row could be imported; every figure is a committed one. */
async function finishImport(
  db: Db,
  job: ClaimedJob,
  options: ProcessorOptions,
  file: PreparedFile,
  progress: ImportProgress,
): Promise<JobOutcome> {
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
  return jobOutcome(job, kind, tally, failure ?? undefined);
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
