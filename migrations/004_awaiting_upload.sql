-- Direct uploads to S3: a job can wait for its file (awaiting_upload) and expire when it never comes;
-- its file lives in the database chunk store or in S3 (bucket, key, and the ETag and size the arrival
-- event reported); and its checkpoint records the byte offset after its last committed record, so a
-- resumed run reads on from there. New ENUM values go last, which MariaDB and MySQL apply in place.
ALTER TABLE import_jobs
  MODIFY status ENUM('queued', 'processing', 'completed', 'failed', 'cancelled', 'awaiting_upload', 'expired')
    NOT NULL DEFAULT 'queued',
  ADD COLUMN storage ENUM('database', 's3') NOT NULL DEFAULT 'database',
  -- Keys and ETags are ASCII by construction and compared exactly (the table's collation ignores case).
  ADD COLUMN s3_bucket VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN s3_key VARCHAR(1024) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN s3_etag VARCHAR(200) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN s3_size_bytes BIGINT UNSIGNED NULL,
  ADD COLUMN upload_expires_at DATETIME(3) NULL,
  ADD COLUMN checkpoint_byte_offset BIGINT UNSIGNED NOT NULL DEFAULT 0,
  ADD KEY ix_import_jobs_upload_expiry (status, upload_expires_at);
