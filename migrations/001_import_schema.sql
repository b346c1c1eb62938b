-- Import pipeline schema: jobs (with claim lease and resume checkpoint), their uploaded files
-- (gzip, in chunks so the processor streams them), sites, meters and meter readings.

CREATE TABLE IF NOT EXISTS import_jobs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  batch_id CHAR(36) NOT NULL,
  filename VARCHAR(255) NOT NULL,
  import_type ENUM('hh', 'daily', 'sites') NOT NULL,
  status ENUM('queued', 'processing', 'completed', 'failed', 'cancelled') NOT NULL DEFAULT 'queued',
  priority ENUM('low', 'normal', 'high', 'critical') NOT NULL DEFAULT 'normal',
  -- ENUM index order doubles as claim order: critical (4) first.
  dry_run TINYINT(1) NOT NULL DEFAULT 0,
  total_rows INT UNSIGNED NULL,
  processed_rows INT UNSIGNED NOT NULL DEFAULT 0,
  imported_rows INT UNSIGNED NOT NULL DEFAULT 0,
  failed_rows INT UNSIGNED NOT NULL DEFAULT 0,
  retry_count INT UNSIGNED NOT NULL DEFAULT 0,
  max_retries INT UNSIGNED NOT NULL DEFAULT 3,
  retry_at DATETIME(3) NULL,
  summary LONGTEXT NULL,
  error_message TEXT NULL,
  last_error TEXT NULL,
  notes TEXT NULL,
  tags LONGTEXT NULL,
  metadata LONGTEXT NULL,
  user_id BIGINT UNSIGNED NULL,
  idempotency_key VARCHAR(200) NULL,
  -- Claim lease: the processor run holding the job, until when. An expired lease may be reclaimed.
  lease_owner CHAR(36) NULL,
  lease_expires_at DATETIME(3) NULL,
  -- Resume point: data rows fully committed, and the running tallies (errors, unit counts) at that row.
  checkpoint_row INT UNSIGNED NOT NULL DEFAULT 0,
  checkpoint_state LONGTEXT NULL,
  queued_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  started_at DATETIME(3) NULL,
  completed_at DATETIME(3) NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_import_jobs_batch (batch_id),
  UNIQUE KEY uq_import_jobs_idempotency (idempotency_key),
  KEY ix_import_jobs_claim (status, priority, queued_at),
  KEY ix_import_jobs_finished (status, completed_at),
  KEY ix_import_jobs_queued (queued_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS import_file_chunks (
  job_id BIGINT UNSIGNED NOT NULL,
  chunk_no INT UNSIGNED NOT NULL,
  -- Consecutive slices of one gzip stream of the uploaded file.
  data MEDIUMBLOB NOT NULL,
  PRIMARY KEY (job_id, chunk_no),
  CONSTRAINT fk_import_file_chunks_job FOREIGN KEY (job_id) REFERENCES import_jobs (id) ON DELETE CASCADE
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS sites (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  company_id BIGINT UNSIGNED NULL,
  region_id BIGINT UNSIGNED NULL,
  name VARCHAR(255) NOT NULL,
  address VARCHAR(500) NULL,
  postcode VARCHAR(16) NULL,
  site_type ENUM('office', 'warehouse', 'retail', 'industrial', 'residential', 'other') NOT NULL DEFAULT 'office',
  floor_area DECIMAL(12, 2) NULL,
  latitude DECIMAL(9, 6) NULL,
  longitude DECIMAL(10, 6) NULL,
  is_active TINYINT(1) NOT NULL DEFAULT 1,
  -- sha256 of company, lower-cased name and postcode without spaces: a re-run updates, never duplicates.
  natural_key CHAR(64) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_sites_natural_key (natural_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS meters (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  mpan VARCHAR(50) NOT NULL,
  site_id BIGINT UNSIGNED NULL,
  meter_type ENUM('electricity', 'gas') NOT NULL DEFAULT 'electricity',
  is_half_hourly TINYINT(1) NOT NULL DEFAULT 0,
  is_active TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_meters_mpan (mpan),
  KEY ix_meters_site (site_id),
  CONSTRAINT fk_meters_site FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS meter_readings (
  meter_id BIGINT UNSIGNED NOT NULL,
  -- 'hh' or 'daily' is part of the key, so a daily reading (00:00, no period) never collides with
  -- half-hour period 1 (also 00:00).
  reading_interval ENUM('hh', 'daily') NOT NULL,
  reading_date DATE NOT NULL,
  reading_time TIME NOT NULL,
  period_number TINYINT UNSIGNED NULL,
  reading_value DECIMAL(12, 4) NOT NULL,
  reading_type ENUM('actual', 'estimated') NOT NULL DEFAULT 'actual',
  import_batch_id CHAR(36) NULL,
  -- The natural key is the clustered primary key: one B-tree to maintain per reading.
  PRIMARY KEY (meter_id, reading_interval, reading_date, reading_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
