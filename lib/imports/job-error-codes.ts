// Why an import job failed or was re-queued, as a stable code stored in import_jobs.error_code and
// shown by the API beside a safe message. The driver's own text (hosts, users, SQL) goes only to the log.
// Health and the monitor's failure rate count system failures only (lib/health/import-queue.ts).

export const JOB_ERROR_CODES = {
  /** The file's content: a header that cannot serve the type, bad encoding or gzip, or no importable row. */
  FORMAT_ERROR: 'FORMAT_ERROR',
  /** The uploaded object is gone, or was replaced after the job was queued: upload it again. Not retried. */
  UPLOAD_UNAVAILABLE: 'UPLOAD_UNAVAILABLE',
  /** The caller's metadata.default_site_id names no site. */
  SITE_NOT_FOUND: 'SITE_NOT_FOUND',
  /** Transient errors, or runs that died holding the job, outlasted max_retries. */
  RETRIES_EXHAUSTED: 'RETRIES_EXHAUSTED',
  /** A statement failed on the server (refused grant, missing table, lock wait …); retried. */
  DATABASE_ERROR: 'DATABASE_ERROR',
  /** Reading the upload from S3 failed (reset, timeout, 5xx); retried from the checkpoint. */
  STORAGE_ERROR: 'STORAGE_ERROR',
  /** Anything else the processor did not expect; retried. */
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

export type JobErrorCode = (typeof JOB_ERROR_CODES)[keyof typeof JOB_ERROR_CODES];

/** What the job row records about a failure: the code, and a message fit for any caller to read. */
export type JobFailure = { readonly code: JobErrorCode; readonly message: string };

/** Failures caused by what the caller sent: the system did its job by rejecting them. */
export const CONTENT_ERROR_CODES: readonly JobErrorCode[] = Object.freeze([
  JOB_ERROR_CODES.FORMAT_ERROR,
  JOB_ERROR_CODES.SITE_NOT_FOUND,
]);

const CONTENT: ReadonlySet<string> = new Set(CONTENT_ERROR_CODES);

/**
 * True when the system caused the failure. A missing or unknown code counts as the system's: a new
 * kind of failure should show in health until someone classifies it, never hide.
 */
export function isSystemFailure(code: string | null | undefined): boolean {
  return code === null || code === undefined || !CONTENT.has(code);
}
