-- A stable, safe code for why a job failed; the message shown to callers never carries driver text.
ALTER TABLE import_jobs ADD COLUMN error_code VARCHAR(64) NULL AFTER error_message;
