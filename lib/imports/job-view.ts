// The import job as the HTTP API shows it: an allow-list of fields, timestamps as ISO 8601 UTC, and
// only the metadata keys known to be safe. Never the numeric id, lease, idempotency key or user.

import { type ImportJobRecord, type ImportSummary, progressPercent } from './job.js';

export type ImportJobView = {
  batch_id: string;
  filename: string;
  import_type: string;
  status: string;
  priority: string;
  dry_run: boolean;
  total_rows: number | null;
  processed_rows: number;
  imported_rows: number;
  failed_rows: number;
  progress_percent: number;
  retry_count: number;
  max_retries: number;
  retry_at: string | null;
  summary: ImportSummary | null;
  error_message: string | null;
  error_code: string | null;
  last_error: string | null;
  notes: string | null;
  tags: string[] | null;
  metadata: { default_site_id?: number };
  queued_at: string;
  started_at: string | null;
  completed_at: string | null;
};

export function toJobView(job: ImportJobRecord): ImportJobView {
  return {
    batch_id: job.batchId,
    filename: job.filename,
    import_type: job.importType,
    status: job.status,
    priority: job.priority,
    dry_run: job.dryRun,
    total_rows: job.totalRows,
    processed_rows: job.processedRows,
    imported_rows: job.importedRows,
    failed_rows: job.failedRows,
    progress_percent: progressPercent(job.processedRows, job.totalRows),
    retry_count: job.retryCount,
    max_retries: job.maxRetries,
    retry_at: isoOrNull(job.retryAt),
    summary: job.summary,
    error_message: job.errorMessage,
    error_code: job.errorCode,
    last_error: job.lastError,
    notes: job.notes,
    tags: safeTags(job.tags),
    metadata: safeMetadata(job.metadata),
    queued_at: job.queuedAt.toISOString(),
    started_at: isoOrNull(job.startedAt),
    completed_at: isoOrNull(job.completedAt),
  };
}

function isoOrNull(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

function safeTags(tags: unknown): string[] | null {
  if (!Array.isArray(tags)) return null;
  return tags.filter((tag): tag is string => typeof tag === 'string');
}

function safeMetadata(metadata: Record<string, unknown> | null): { default_site_id?: number } {
  const siteId = metadata?.default_site_id;
  return typeof siteId === 'number' && Number.isSafeInteger(siteId) && siteId > 0
    ? { default_site_id: siteId }
    : {};
}
