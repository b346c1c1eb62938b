-- Why a failed job failed, as a code (lib/imports/job-error-codes.ts): health and the monitor count
-- only the failures the system caused, not files rejected for their content. NULL: not classified
-- (failed before this column existed), counted as the system's.
ALTER TABLE import_jobs ADD COLUMN error_code VARCHAR(64) NULL AFTER error_message;
