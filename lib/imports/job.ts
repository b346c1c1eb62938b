// The import job's vocabulary: statuses, types, priorities, the row as stored, and the view the API
// returns. No SQL here (repositories own it) and nothing that exposes paths or personal data.

import type { JobStatus } from './job-status.js';
import type { QualitySummary } from './quality.js';

export const IMPORT_TYPES = ['hh', 'daily', 'sites'] as const;
export type ImportType = (typeof IMPORT_TYPES)[number];

export { JOB_STATUSES, type JobStatus } from './job-status.js';

/** Claim order is the reverse of this list: critical first. */
export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const;
export type Priority = (typeof PRIORITIES)[number];

export type ImportSummary = {
  records_processed: number;
  records_imported: number;
  records_failed: number;
  errors: string[];
  successful: boolean;
  batch_id: string;
  dry_run: boolean;
  /** Reading imports only (see quality.ts). */
  quality?: QualitySummary;
  meta: {
    format: string;
    column_mapping: Record<string, string>;
    unit_counts: Record<string, number>;
    [key: string]: unknown;
  };
};

/** An import_jobs row as the repositories read it (JSON columns decoded). */
export type ImportJobRecord = {
  id: number;
  batchId: string;
  filename: string;
  importType: ImportType;
  status: JobStatus;
  priority: Priority;
  dryRun: boolean;
  totalRows: number | null;
  processedRows: number;
  importedRows: number;
  failedRows: number;
  retryCount: number;
  maxRetries: number;
  retryAt: Date | null;
  summary: ImportSummary | null;
  errorMessage: string | null;
  /** A JOB_ERROR_CODES value: why the job last failed or was re-queued. */
  errorCode: string | null;
  lastError: string | null;
  notes: string | null;
  tags: unknown;
  metadata: Record<string, unknown> | null;
  queuedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  updatedAt: Date;
};

/** progress = processed / total × 100 with two decimals; 0 while the total is unknown. */
export function progressPercent(processedRows: number, totalRows: number | null): number {
  if (totalRows === null || totalRows <= 0) return 0;
  return Math.min(100, Math.round((processedRows / totalRows) * 10_000) / 100);
}

/** Parses a JSON column: MySQL 8 returns JSON decoded, MariaDB (LONGTEXT) returns a string. */
export function decodeJsonColumn(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null;
  try {
    return JSON.parse(value);
  } catch {
    return null;
  }
}
