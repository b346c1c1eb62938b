// The import processor's domain: claim due jobs one after another on the connection it is given,
// stream each stored file through the CSV layer, and commit readings in batches that also checkpoint
// the job, so a run that stops or dies resumes without duplicating or losing a reading.

import { jobRetryDelaySeconds } from '../backoff.js';
import type { Db } from '../db.js';
import { isConnectionGone } from '../errors.js';
import { readCsvRecordBatches } from './csv-reader.js';
import { openStoredFile } from './file-store.js';
import { detectLayout, type ImportLayout, isFileFormatError, noHeaderError } from './formats.js';
import type { ImportSummary } from './job.js';
import {
  type ClaimedJob,
  claimNextJob,
  emptyTally,
  failJobPermanently,
  finishJob,
  type ImportTally,
  releaseJob,
  requeueOrFail,
  saveCheckpoint,
} from './processor-repository.js';
import {
  createMeters,
  ensureAutoImportSite,
  loadReadings,
  lookUpMeters,
  meterKey,
  serverAllowsLocalInfile,
  siteExists,
  upsertReadings,
  upsertSites,
} from './reading-repository.js';
import {
  compileReadingMapper,
  compileSiteMapper,
  formatRowError,
  type ReadingRow,
  type SiteRow,
} from './rows.js';

export const MAX_KEPT_ROW_ERRORS = 50;

export type ProcessorOptions = {
  /** Identifies this run in the job's lease. */
  readonly leaseOwner: string;
  /** Time this invocation has left, in ms (Lambda's getRemainingTimeInMillis). */
  readonly remainingMs: () => number;
  /** Readings (or sites) written per transaction. */
  readonly batchSize: number;
  /** Stop, checkpointed, when less than this (plus twice the slowest batch so far) remains. */
  readonly stopMarginMs: number;
  /**
   * How readings are written: multi-row INSERT … ON DUPLICATE KEY UPDATE, or the server's bulk path
   * (LOAD DATA LOCAL from an in-memory stream); 'auto' takes the bulk path when the server allows it.
   */
  readonly writeMode: WriteMode;
};

export type WriteMode = 'auto' | 'insert' | 'load';

export type JobOutcome = {
  readonly batchId: string;
  readonly outcome: 'completed' | 'failed' | 'cancelled' | 'released' | 'requeued';
  readonly processedRows: number;
  readonly importedRows: number;
  readonly failedRows: number;
  readonly detail?: string;
};

/** Processes due jobs until none is left or time runs short; returns what happened to each. */
export async function processImports(db: Db, options: ProcessorOptions): Promise<JobOutcome[]> {
  const outcomes: JobOutcome[] = [];
  let bulkLoad: boolean | undefined;
  while (options.remainingMs() > options.stopMarginMs * 2) {
    const job = await claimNextJob(db, options.leaseOwner, leaseSecondsFor(options));
    if (job === null) break;
    bulkLoad ??=
      options.writeMode === 'auto' ? await serverAllowsLocalInfile(db) : options.writeMode === 'load';
    const outcome = await processJob(db, job, options, bulkLoad);
    outcomes.push(outcome);
    if (outcome.outcome === 'released') break;
  }
  return outcomes;
}

/** Past the invocation's own end, so a lease only expires once its holder is certainly gone. */
function leaseSecondsFor(options: ProcessorOptions): number {
  return Math.ceil(options.remainingMs() / 1000) + 60;
}

/** Errors after which this connection is unusable: the run ends, and the lease expiry hands the job on. */
function jobOutcome(
  job: ClaimedJob,
  kind: JobOutcome['outcome'],
  tally: ImportTally,
  detail: string | undefined,
): JobOutcome {
  return {
    batchId: job.batchId,
    outcome: kind,
    processedRows: tally.processed,
    importedRows: tally.imported,
    failedRows: tally.failed,
    ...(detail === undefined ? {} : { detail }),
  };
}

async function processJob(
  db: Db,
  job: ClaimedJob,
  options: ProcessorOptions,
  bulkLoad: boolean,
): Promise<JobOutcome> {
  const outcome = (kind: JobOutcome['outcome'], tally: ImportTally | null, detail?: string) =>
    jobOutcome(job, kind, tally ?? emptyTally(), detail);
  if (job.recovered && job.retryCount > job.maxRetries) {
    const message = `The import was interrupted ${job.retryCount} times without finishing`;
    await failJobPermanently(db, job, options.leaseOwner, message);
    return outcome('failed', job.tally, message);
  }
  try {
    return await importJobFile(db, job, options, bulkLoad);
  } catch (error) {
    if (isConnectionGone(error)) throw error;
    await db.rollback().catch(() => undefined);
    const message = error instanceof Error ? error.message.slice(0, 1000) : String(error);
    if (isFileFormatError(error)) {
      const held = await failJobPermanently(db, job, options.leaseOwner, message);
      return outcome(held ? 'failed' : 'cancelled', job.tally, message);
    }
    const result = await requeueOrFail(
      db,
      job,
      options.leaseOwner,
      message,
      jobRetryDelaySeconds(job.retryCount),
    );
    return outcome(result === 'lost' ? 'cancelled' : result, job.tally, message);
  }
}

type Mapper =
  | { kind: 'readings'; map: ReturnType<typeof compileReadingMapper> }
  | { kind: 'sites'; map: ReturnType<typeof compileSiteMapper> };

async function importJobFile(
  db: Db,
  job: ClaimedJob,
  options: ProcessorOptions,
  bulkLoad: boolean,
): Promise<JobOutcome> {
  const tally = job.tally ?? emptyTally();
  const result = (kind: JobOutcome['outcome'], detail?: string) => jobOutcome(job, kind, tally, detail);
  if (!job.dryRun && job.defaultSiteId !== null && !(await siteExists(db, job.defaultSiteId))) {
    const message = `metadata.default_site_id ${job.defaultSiteId} does not exist`;
    await failJobPermanently(db, job, options.leaseOwner, message);
    return result('failed', message);
  }
  const writer = new BatchWriter(db, job, options, tally, bulkLoad);
  let layout: ImportLayout | undefined;
  let rowNumber = 0;
  try {
    let mapper: Mapper | undefined;
    for await (const records of readCsvRecordBatches(openStoredFile(db, job.id))) {
      for (const record of records) {
        if (mapper === undefined) {
          layout = detectLayout(job.importType, record.fields);
          mapper =
            layout.format === 'sites'
              ? { kind: 'sites', map: compileSiteMapper(layout) }
              : { kind: 'readings', map: compileReadingMapper(layout) };
          continue;
        }
        rowNumber++;
        if (rowNumber <= job.checkpointRow) continue;
        tally.processed++;
        const mapped = mapper.kind === 'sites' ? mapper.map(record.fields) : mapper.map(record.fields);
        if (mapped.kind === 'error') {
          tally.failed++;
          if (tally.errors.length < MAX_KEPT_ROW_ERRORS)
            tally.errors.push(formatRowError(rowNumber, mapped.message));
        } else if (mapped.kind === 'rows') {
          tally.imported++;
          for (const reading of mapped.rows) {
            tally.unitCounts[reading.unit] = (tally.unitCounts[reading.unit] ?? 0) + 1;
          }
          writer.addReadings(mapped.rows);
        } else if (mapped.kind === 'site') {
          tally.imported++;
          writer.addSite(mapped.site);
        }
        if (writer.isFull()) {
          const flushed = await writer.flush(rowNumber);
          if (flushed !== 'ok') return result(flushed === 'lost' ? 'cancelled' : 'released');
        }
      }
    }
    const flushed = await writer.flush(rowNumber);
    if (flushed !== 'ok') return result(flushed === 'lost' ? 'cancelled' : 'released');
    const written = await writer.finish();
    if (written !== 'ok') return result('cancelled');
  } finally {
    // Never leave a batch's transaction running on the connection while the caller moves on.
    await writer.settle();
  }
  // processJob fails the job for good, as for any other file-format error.
  if (layout === undefined) throw noHeaderError();
  const summary = buildSummary(job, layout, tally);
  const errorMessage =
    rowNumber === 0
      ? 'No data rows'
      : tally.imported === 0
        ? `No row could be imported: ${tally.failed} of ${tally.processed} rows failed`
        : null;
  const held = await finishJob(db, job, options.leaseOwner, {
    status: errorMessage === null ? 'completed' : 'failed',
    summary,
    totalRows: rowNumber,
    errorMessage,
  });
  if (!held) return result('cancelled');
  return result(errorMessage === null ? 'completed' : 'failed', errorMessage ?? undefined);
}

function buildSummary(job: ClaimedJob, layout: ImportLayout, tally: ImportTally): ImportSummary {
  return {
    records_processed: tally.processed,
    records_imported: tally.imported,
    records_failed: tally.failed,
    errors: tally.errors,
    successful: tally.imported > 0,
    batch_id: job.batchId,
    dry_run: job.dryRun,
    meta: {
      format: layout.format,
      column_mapping: layout.columnMapping,
      unit_counts: tally.unitCounts,
      ...(layout.format === 'sites'
        ? { sites_created: tally.sitesCreated }
        : job.dryRun
          ? { readings_to_write: tally.readingsWritten, meters_to_create: tally.metersToCreate.length }
          : { readings_written: tally.readingsWritten, meters_created: tally.metersCreated }),
    },
  };
}

type WriteResult = 'ok' | 'lost';

/**
 * Collects rows and writes them with the checkpoint in one transaction. Writes are pipelined: batch k
 * is written while the caller parses batch k+1 (the database, not Node, is the bottleneck), and batch
 * k+1 is only started once k has committed, so checkpoints stay in order. Dry runs resolve meters
 * read-only and write only the checkpoint: they report what a real run would, and write nothing else.
 */
class BatchWriter {
  private readings: ReadingRow[] = [];
  private sites: SiteRow[] = [];
  private readonly meterIds = new Map<string, number>();
  private readonly metersToCreate: Set<string>;
  private siteIdForNewMeters: number | null;
  private slowestWriteMs = 0;
  private pending: Promise<WriteResult> = Promise.resolve('ok');

  constructor(
    private readonly db: Db,
    private readonly job: ClaimedJob,
    private readonly options: ProcessorOptions,
    /** Row tallies are kept by the caller; this writer adds what only it knows (readings, meters, sites). */
    private readonly tally: ImportTally,
    private readonly bulkLoad: boolean,
  ) {
    this.metersToCreate = new Set(tally.metersToCreate);
    this.siteIdForNewMeters = job.defaultSiteId;
  }

  addReadings(rows: readonly ReadingRow[]): void {
    for (const row of rows) this.readings.push(row);
  }

  addSite(site: SiteRow): void {
    this.sites.push(site);
  }

  isFull(): boolean {
    return this.readings.length + this.sites.length >= this.options.batchSize;
  }

  /**
   * Waits for the previous batch, then starts writing the collected rows with a checkpoint at
   * `checkpointRow`. 'lost': the job was cancelled or taken over; 'out-of-time': released instead.
   */
  async flush(checkpointRow: number): Promise<WriteResult | 'out-of-time'> {
    const previous = await this.pending;
    if (previous !== 'ok') return previous;
    if (this.options.remainingMs() < this.options.stopMarginMs + 2 * this.slowestWriteMs) {
      const released = await releaseJob(this.db, this.job, this.options.leaseOwner);
      return released ? 'out-of-time' : 'lost';
    }
    const readings = this.readings;
    const sites = this.sites;
    this.readings = [];
    this.sites = [];
    const rowTally = {
      ...this.tally,
      errors: [...this.tally.errors],
      unitCounts: { ...this.tally.unitCounts },
    };
    const write = this.job.dryRun
      ? this.checkpointDryRun(readings, checkpointRow, rowTally)
      : this.write(readings, sites, checkpointRow, rowTally);
    // Marked handled now; the error still reaches whoever awaits `pending` next.
    write.catch(() => undefined);
    this.pending = write;
    return 'ok';
  }

  /** The last batch's result (its error, if it failed). */
  finish(): Promise<WriteResult> {
    return this.pending;
  }

  /** Waits for any write in flight, whatever its outcome. */
  async settle(): Promise<void> {
    await this.pending.catch(() => undefined);
  }

  private async checkpointDryRun(
    readings: readonly ReadingRow[],
    checkpointRow: number,
    rowTally: ImportTally,
  ): Promise<WriteResult> {
    const startedMs = performance.now();
    const unknown = await lookUpMeters(
      this.db,
      readings.map((reading) => reading.meterCode),
      this.meterIds,
    );
    for (const code of unknown) this.metersToCreate.add(meterKey(code));
    this.tally.metersToCreate = [...this.metersToCreate];
    this.tally.readingsWritten += readings.length;
    const state = {
      ...rowTally,
      metersToCreate: this.tally.metersToCreate,
      readingsWritten: this.tally.readingsWritten,
    };
    const held = await saveCheckpoint(
      this.db,
      this.job,
      this.options.leaseOwner,
      checkpointRow,
      state,
      this.leaseSeconds(),
    );
    this.slowestWriteMs = Math.max(this.slowestWriteMs, performance.now() - startedMs);
    return held ? 'ok' : 'lost';
  }

  private async write(
    readings: readonly ReadingRow[],
    sites: readonly SiteRow[],
    checkpointRow: number,
    rowTally: ImportTally,
  ): Promise<WriteResult> {
    const startedMs = performance.now();
    let { metersCreated, readingsWritten, sitesCreated } = this.tally;
    await this.db.beginTransaction();
    try {
      if (readings.length > 0) {
        const unknown = await lookUpMeters(
          this.db,
          readings.map((reading) => reading.meterCode),
          this.meterIds,
        );
        if (unknown.length > 0) {
          this.siteIdForNewMeters ??= await ensureAutoImportSite(this.db);
          metersCreated += await createMeters(
            this.db,
            unknown,
            { siteId: this.siteIdForNewMeters, isHalfHourly: this.job.importType === 'hh' },
            this.meterIds,
          );
        }
        await (this.bulkLoad ? loadReadings : upsertReadings)(
          this.db,
          readings,
          this.meterIds,
          this.job.batchId,
          // The invocation's end, which the monitor reads from the statement (docs/design.md#runaway-statements).
          Date.now() + this.options.remainingMs(),
        );
        readingsWritten += readings.length;
      }
      sitesCreated += await upsertSites(this.db, sites);
      const state = { ...rowTally, metersCreated, readingsWritten, sitesCreated };
      const held = await saveCheckpoint(
        this.db,
        this.job,
        this.options.leaseOwner,
        checkpointRow,
        state,
        this.leaseSeconds(),
      );
      if (!held) {
        await this.db.rollback();
        return 'lost';
      }
      await this.db.commit();
      Object.assign(this.tally, { metersCreated, readingsWritten, sitesCreated });
      this.slowestWriteMs = Math.max(this.slowestWriteMs, performance.now() - startedMs);
      return 'ok';
    } catch (error) {
      // A rolled-back batch may have created meters whose ids are now cached: forget them all.
      this.meterIds.clear();
      this.siteIdForNewMeters = this.job.defaultSiteId;
      await this.db.rollback().catch(() => undefined);
      throw error;
    }
  }

  private leaseSeconds(): number {
    return leaseSecondsFor(this.options);
  }
}
