// The import job's statuses: a pure module with no imports, so the console (console/src/job.ts)
// bundles the same list the API validates against instead of keeping its own copy.

/** awaiting_upload: a presigned upload not yet arrived; expired: it never did (see lib/storage/). */
export const JOB_STATUSES = [
  'awaiting_upload',
  'queued',
  'processing',
  'completed',
  'failed',
  'cancelled',
  'expired',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
