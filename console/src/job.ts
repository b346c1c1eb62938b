// The import job as the console reads it from the API: a tolerant parse (fields a newer or older API
// lacks become null) and the few rules the page needs about statuses. The statuses themselves come
// from lib/imports/job-status.ts, a pure module esbuild bundles in, so they are defined once.

import type { JobStatus } from '../../lib/imports/job-status.js';
import { isRecord } from './api.js';

/** Statuses a job can still leave (and a cancel can still stop): the page polls while a job has one. */
const ACTIVE_STATUSES: ReadonlySet<string> = new Set<JobStatus>(['awaiting_upload', 'queued', 'processing']);

export type DataQuality = {
  readonly meterDays: number | null;
  readonly completeDays: number | null;
  readonly missingPeriods: number | null;
  readonly duplicatesInFile: number | null;
  readonly estimated: number | null;
  /** The API counted only the rows of the job's last run (a resumed job: lib/imports/quality.ts). */
  readonly partial: boolean;
};

export type Job = {
  readonly batchId: string;
  readonly filename: string;
  readonly importType: string;
  readonly status: string;
  readonly dryRun: boolean;
  readonly totalRows: number | null;
  readonly processedRows: number;
  readonly importedRows: number;
  readonly failedRows: number;
  readonly progressPercent: number;
  readonly retryCount: number;
  readonly maxRetries: number;
  readonly errorMessage: string | null;
  readonly queuedAt: string | null;
  readonly startedAt: string | null;
  readonly completedAt: string | null;
  readonly format: string | null;
  readonly rowErrors: readonly string[];
  readonly quality: DataQuality | null;
};

export function isActive(status: string): boolean {
  return ACTIVE_STATUSES.has(status);
}

export function statusLabel(status: string): string {
  return status.replace(/_/g, ' ');
}

export function parseJob(value: unknown): Job | null {
  if (!isRecord(value) || typeof value.batch_id !== 'string') return null;
  const summary = isRecord(value.summary) ? value.summary : {};
  const meta = isRecord(summary.meta) ? summary.meta : {};
  return {
    batchId: value.batch_id,
    filename: text(value.filename) ?? '(no name)',
    importType: text(value.import_type) ?? '?',
    status: text(value.status) ?? 'unknown',
    dryRun: value.dry_run === true,
    totalRows: count(value.total_rows),
    processedRows: count(value.processed_rows) ?? 0,
    importedRows: count(value.imported_rows) ?? 0,
    failedRows: count(value.failed_rows) ?? 0,
    progressPercent: count(value.progress_percent) ?? 0,
    retryCount: count(value.retry_count) ?? 0,
    maxRetries: count(value.max_retries) ?? 0,
    errorMessage: text(value.error_message),
    queuedAt: text(value.queued_at),
    startedAt: text(value.started_at),
    completedAt: text(value.completed_at),
    format: text(meta.format),
    rowErrors: Array.isArray(summary.errors)
      ? summary.errors.filter((entry): entry is string => typeof entry === 'string')
      : [],
    quality: parseQuality(summary.quality),
  };
}

function parseQuality(value: unknown): DataQuality | null {
  if (!isRecord(value)) return null;
  return {
    meterDays: count(value.meter_days),
    completeDays: count(value.complete_days),
    missingPeriods: count(value.missing_periods),
    duplicatesInFile: count(value.duplicates_in_file),
    estimated: count(value.estimated),
    partial: value.partial === true,
  };
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A stable fingerprint of what the page shows, so polling can tell whether anything changed. */
export function jobFingerprint(job: Job): string {
  return [job.status, job.processedRows, job.importedRows, job.failedRows, job.retryCount].join('|');
}
