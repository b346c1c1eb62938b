// What a run has done to one job: the rows it has read so far, and the tally its last committed
// checkpoint holds. The processor owns one per job and passes it down; checkpoints are built from it
// and every figure the run reports comes from its committed side, so no figure runs ahead of the data.

import { AmbiguousTimeTracker, type TrackerState } from '../time/wall-clock.js';
import { type QualityState, type QualitySummary, QualityTally } from './quality.js';
import { formatRowError, type MappedRecord } from './rows.js';

export const MAX_KEPT_ROW_ERRORS = 50;

/** Counted as records are mapped, before their batch is written. */
export type RowCounts = {
  processed: number;
  imported: number;
  failed: number;
  errors: string[];
  unitCounts: Record<string, number>;
  /** summary.quality so far, compact (quality.ts). */
  quality: QualityState;
  /** The ambiguous autumn times each meter has had so far, so a resumed run tells BST from GMT. */
  ambiguousTimes: TrackerState;
};

/** Known only once a batch is written. */
export type WriteCounts = {
  readingsWritten: number;
  metersCreated: number;
  sitesCreated: number;
  /** Dry runs: meter codes a real run would create (upper-cased, distinct). */
  metersToCreate: string[];
};

/** The tallies saved with each checkpoint, so a resumed run continues them. */
export type ImportTally = RowCounts & WriteCounts;

export function emptyTally(): ImportTally {
  return {
    processed: 0,
    imported: 0,
    failed: 0,
    errors: [],
    unitCounts: {},
    quality: { duplicates: 0, meters: [] },
    ambiguousTimes: [],
    readingsWritten: 0,
    metersCreated: 0,
    sitesCreated: 0,
    metersToCreate: [],
  };
}

function copyTally(tally: ImportTally): ImportTally {
  return {
    ...tally,
    errors: [...tally.errors],
    unitCounts: { ...tally.unitCounts },
    metersToCreate: [...tally.metersToCreate],
  };
}

type Counters = Omit<RowCounts, 'quality' | 'ambiguousTimes'>;

export class ImportProgress {
  private readonly rows: Counters;
  private readonly quality: QualityTally;
  /** The file's ambiguous-time state: the reading layouts' mappers resolve autumn times through it. */
  readonly tracker: AmbiguousTimeTracker;
  private saved: ImportTally;

  /** Starts from the tally of the job's last checkpoint (a resumed job), or from zero. */
  constructor(resumedFrom: ImportTally | null) {
    this.saved = copyTally(resumedFrom ?? emptyTally());
    const { processed, imported, failed, errors, unitCounts, quality, ambiguousTimes } = copyTally(
      this.saved,
    );
    this.rows = { processed, imported, failed, errors, unitCounts };
    this.quality = new QualityTally(quality);
    this.tracker = new AmbiguousTimeTracker(ambiguousTimes);
  }

  /** Counts one mapped record; a blank one is not a row, so it is neither processed nor failed. */
  countRecord(rowNumber: number, record: MappedRecord): void {
    if (record.kind === 'blank') return;
    const rows = this.rows;
    rows.processed++;
    if (record.kind === 'error') {
      rows.failed++;
      if (rows.errors.length < MAX_KEPT_ROW_ERRORS)
        rows.errors.push(formatRowError(rowNumber, record.message));
      return;
    }
    rows.imported++;
    if (record.kind === 'rows') {
      for (const reading of record.rows) {
        rows.unitCounts[reading.unit] = (rows.unitCounts[reading.unit] ?? 0) + 1;
        this.quality.add(reading);
      }
    }
  }

  /**
   * A copy of the row counts as of the last record counted: the row side of the next checkpoint. The
   * tracker's state is the mappers' as of that record too (they map nothing between count and flush).
   */
  rowsSoFar(): RowCounts {
    return {
      ...this.rows,
      errors: [...this.rows.errors],
      unitCounts: { ...this.rows.unitCounts },
      quality: this.quality.snapshot(),
      ambiguousTimes: this.tracker.snapshot(),
    };
  }

  /**
   * summary.quality of every record counted so far: the job's figure once its last batch has
   * committed (the tally itself, not its checkpoint copy, which may have dropped its days).
   */
  qualitySummary(): QualitySummary {
    return this.quality.summary();
  }

  /** A checkpoint holding `tally` has committed: it is now what the database says about the job. */
  markCommitted(tally: ImportTally): void {
    this.saved = copyTally(tally);
  }

  /** The tally of the last committed checkpoint (or the one resumed from): the run's true figures. */
  get committed(): Readonly<ImportTally> {
    return this.saved;
  }
}
