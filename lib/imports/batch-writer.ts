// Writes an import's rows in batches, each in one transaction with the job's checkpoint, and records
// each committed checkpoint in the run's ImportProgress. Dry runs resolve meters read-only and write
// only the checkpoint: they report what a real run would, and write nothing else.

import type { Db } from '../db.js';
import { withTransaction } from '../db-transaction.js';
import type { ImportProgress, ImportTally, RowCounts } from './import-progress.js';
import type { Reading } from './layouts/layout.js';
import { type Checkpoint, type ClaimedJob, releaseJob, saveCheckpoint } from './processor-repository.js';
import {
  createMeters,
  ensureAutoImportSite,
  loadReadings,
  lookUpMeters,
  meterKey,
  upsertReadings,
  upsertSites,
} from './reading-repository.js';
import type { MappedRecord, SiteRow } from './rows.js';

export type BatchWriterOptions = {
  /** Identifies this run in the job's lease. */
  readonly leaseOwner: string;
  /** Time this invocation has left, in ms (Lambda's getRemainingTimeInMillis). */
  readonly remainingMs: () => number;
  /** Readings (or sites) written per transaction. */
  readonly batchSize: number;
  /** Stop, checkpointed, when less than this (plus twice the slowest batch so far) remains. */
  readonly stopMarginMs: number;
};

/** 'lost': the job was cancelled or taken over, and this run's write was rolled back. */
export type WriteResult = 'ok' | 'lost';

/** Past the invocation's own end, so a lease only expires once its holder is certainly gone. */
export function leaseSecondsFor(remainingMs: number): number {
  return Math.ceil(remainingMs / 1000) + 60;
}

/**
 * Writes are pipelined: batch k is written while the caller maps batch k+1 (the database, not Node,
 * is the bottleneck), and batch k+1 is only started once k has committed, so checkpoints stay in order.
 */
export class BatchWriter {
  private readings: Reading[] = [];
  private sites: SiteRow[] = [];
  private readonly meterIds = new Map<string, number>();
  private readonly metersToCreate: Set<string>;
  private siteIdForNewMeters: number | null;
  private slowestWriteMs = 0;
  private pending: Promise<WriteResult> = Promise.resolve('ok');

  constructor(
    private readonly db: Db,
    private readonly job: ClaimedJob,
    private readonly options: BatchWriterOptions,
    private readonly progress: ImportProgress,
    private readonly bulkLoad: boolean,
  ) {
    this.metersToCreate = new Set(progress.committed.metersToCreate);
    this.siteIdForNewMeters = job.defaultSiteId;
  }

  /** Collects what a record maps to; errors and blank records write nothing. */
  add(record: MappedRecord): void {
    if (record.kind === 'rows') for (const row of record.rows) this.readings.push(row);
    else if (record.kind === 'site') this.sites.push(record.site);
  }

  isFull(): boolean {
    return this.readings.length + this.sites.length >= this.options.batchSize;
  }

  /**
   * Waits for the previous batch, then starts writing the collected rows with `checkpoint` (the row
   * counts are taken now, before the caller maps more). 'out-of-time': the job was released for the
   * next run instead.
   */
  async flush(checkpoint: Checkpoint): Promise<WriteResult | 'out-of-time'> {
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
    const rows = this.progress.rowsSoFar();
    const write = this.job.dryRun
      ? this.checkpointDryRun(readings, checkpoint, rows)
      : this.write(readings, sites, checkpoint, rows);
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
    readings: readonly Reading[],
    checkpoint: Checkpoint,
    rows: RowCounts,
  ): Promise<WriteResult> {
    const startedMs = performance.now();
    const unknown = await lookUpMeters(
      this.db,
      readings.map((reading) => reading.meterCode),
      this.meterIds,
    );
    for (const code of unknown) this.metersToCreate.add(meterKey(code));
    const state: ImportTally = {
      ...rows,
      readingsWritten: this.progress.committed.readingsWritten + readings.length,
      metersCreated: 0,
      sitesCreated: 0,
      metersToCreate: [...this.metersToCreate],
    };
    const held = await this.saveCheckpoint(checkpoint, state);
    if (held) this.committed(state, startedMs);
    return held ? 'ok' : 'lost';
  }

  private async write(
    readings: readonly Reading[],
    sites: readonly SiteRow[],
    checkpoint: Checkpoint,
    rows: RowCounts,
  ): Promise<WriteResult> {
    const startedMs = performance.now();
    // The previous batch has committed (flush waits for it), so these are the job's totals so far.
    const before = this.progress.committed;
    let state: ImportTally | undefined;
    try {
      const held = await withTransaction(
        this.db,
        async () => {
          let metersCreated = before.metersCreated;
          if (readings.length > 0) metersCreated += await this.resolveMeters(readings);
          await (this.bulkLoad ? loadReadings : upsertReadings)(
            this.db,
            readings,
            this.meterIds,
            this.job.batchId,
            // The invocation's end, which the monitor reads from the statement (docs/design.md#runaway-statements).
            Date.now() + this.options.remainingMs(),
          );
          state = {
            ...rows,
            readingsWritten: before.readingsWritten + readings.length,
            metersCreated,
            sitesCreated: before.sitesCreated + (await upsertSites(this.db, sites)),
            metersToCreate: [],
          };
          return this.saveCheckpoint(checkpoint, state);
        },
        (held) => held,
      );
      if (!held || state === undefined) return 'lost';
      this.committed(state, startedMs);
      return 'ok';
    } catch (error) {
      // A rolled-back batch may have created meters whose ids are now cached: forget them all.
      this.meterIds.clear();
      this.siteIdForNewMeters = this.job.defaultSiteId;
      throw error;
    }
  }

  /** Looks up the batch's meters, creating unknown ones; returns how many it created. */
  private async resolveMeters(readings: readonly Reading[]): Promise<number> {
    const unknown = await lookUpMeters(
      this.db,
      readings.map((reading) => reading.meterCode),
      this.meterIds,
    );
    if (unknown.length === 0) return 0;
    this.siteIdForNewMeters ??= await ensureAutoImportSite(this.db);
    return createMeters(
      this.db,
      unknown,
      { siteId: this.siteIdForNewMeters, isHalfHourly: this.job.importType === 'hh' },
      this.meterIds,
    );
  }

  private saveCheckpoint(checkpoint: Checkpoint, state: ImportTally): Promise<boolean> {
    return saveCheckpoint(
      this.db,
      this.job,
      this.options.leaseOwner,
      checkpoint,
      state,
      leaseSecondsFor(this.options.remainingMs()),
    );
  }

  private committed(state: ImportTally, startedMs: number): void {
    this.progress.markCommitted(state);
    this.slowestWriteMs = Math.max(this.slowestWriteMs, performance.now() - startedMs);
  }
}
