// The codes a failed import job stores in import_jobs.error_code, and which of them the system caused.
// Pure: no I/O. Health and the monitor's failure rate count system failures only (lib/health/import-queue.ts).

export const JOB_ERROR_CODES = {
  /** The file is not a layout we read: no header, unknown columns, undecodable bytes. */
  FILE_FORMAT: 'file_format',
  /** The file has a header and no data row. */
  NO_DATA_ROWS: 'no_data_rows',
  /** Every data row was rejected (each row's error is in the summary). */
  NO_VALID_ROWS: 'no_valid_rows',
  /** The upload's metadata.default_site_id names no site. */
  UNKNOWN_DEFAULT_SITE: 'unknown_default_site',
  /** A transient error recurred until max_retries was spent. */
  RETRIES_EXHAUSTED: 'retries_exhausted',
  /** Runs holding the job kept ending without finishing (lost connection, deadline, crash). */
  INTERRUPTED: 'interrupted',
  CONNECTION_LOST: 'connection_lost',
  DEADLINE_EXCEEDED: 'deadline_exceeded',
  /** Anything else that went wrong on our side. */
  INTERNAL_ERROR: 'internal_error',
} as const;

export type JobErrorCode = (typeof JOB_ERROR_CODES)[keyof typeof JOB_ERROR_CODES];

/** Failures caused by what the caller sent: the system did its job by rejecting them. */
export const CONTENT_ERROR_CODES: readonly JobErrorCode[] = Object.freeze([
  JOB_ERROR_CODES.FILE_FORMAT,
  JOB_ERROR_CODES.NO_DATA_ROWS,
  JOB_ERROR_CODES.NO_VALID_ROWS,
  JOB_ERROR_CODES.UNKNOWN_DEFAULT_SITE,
]);

const CONTENT: ReadonlySet<string> = new Set(CONTENT_ERROR_CODES);

/**
 * True when the system caused the failure. A missing or unknown code counts as the system's: a new
 * kind of failure should show in health until someone classifies it, never hide.
 */
export function isSystemFailure(code: string | null | undefined): boolean {
  return code === null || code === undefined || !CONTENT.has(code);
}
