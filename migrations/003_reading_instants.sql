-- Readings keyed by their UTC start instant, with their settlement date and period 1..50 (see
-- docs/design.md#time-model). Local wall-clock (reading_date, reading_time) cannot key a reading: the
-- autumn 01:00-01:59 happens twice, the spring one never.
--
-- Existing rows are copied into the new shape, their instant derived from the stored local date and
-- time by the Europe/London rule computed here (server time-zone tables are often not loaded):
-- clocks go forward at 01:00 GMT on the last Sunday of March, back at 01:00 GMT (02:00 BST) on the last
-- Sunday of October. An autumn 01:00-01:59 row (stored once) is taken as the first occurrence, BST.
-- A spring 01:00-01:59 row names a time that did not exist: it is moved, unchanged and with the reason,
-- to meter_readings_unplaced for an operator to look at, never dropped or shifted silently.
-- Written for MySQL 8 and MariaDB 10.6+; every step before the RENAME can be re-run.

CREATE TABLE IF NOT EXISTS meter_readings_unplaced (
  meter_id BIGINT UNSIGNED NOT NULL,
  reading_interval ENUM('hh', 'daily') NOT NULL,
  reading_date DATE NOT NULL,
  reading_time TIME NOT NULL,
  period_number TINYINT UNSIGNED NULL,
  reading_value DECIMAL(12, 4) NOT NULL,
  reading_type ENUM('actual', 'estimated') NOT NULL DEFAULT 'actual',
  import_batch_id CHAR(36) NULL,
  reason VARCHAR(200) NOT NULL,
  moved_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (meter_id, reading_interval, reading_date, reading_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS meter_readings_003 (
  meter_id BIGINT UNSIGNED NOT NULL,
  -- 'hh' or 'daily' stays in the key: a daily reading starts at local midnight, as period 1 does.
  reading_interval ENUM('hh', 'daily') NOT NULL,
  -- The interval's start (daily: local midnight) in UTC. DATETIME, not TIMESTAMP: no session-zone shift.
  start_utc DATETIME NOT NULL,
  -- The Europe/London day the reading belongs to; period 1..50 of it (46 in spring, 50 in autumn).
  settlement_date DATE NOT NULL,
  period_number TINYINT UNSIGNED NULL,
  reading_value DECIMAL(12, 4) NOT NULL,
  reading_type ENUM('actual', 'estimated') NOT NULL DEFAULT 'actual',
  import_batch_id CHAR(36) NULL,
  PRIMARY KEY (meter_id, reading_interval, start_utc),
  CONSTRAINT ck_meter_readings_period CHECK (period_number IS NULL OR period_number BETWEEN 1 AND 50)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO meter_readings_unplaced
  (meter_id, reading_interval, reading_date, reading_time, period_number, reading_value, reading_type,
   import_batch_id, reason)
SELECT r.meter_id, r.reading_interval, r.reading_date, r.reading_time, r.period_number, r.reading_value,
       r.reading_type, r.import_batch_id,
       'Local time did not exist: UK clocks went forward from 01:00 GMT to 02:00 BST that day'
  FROM meter_readings AS r
 WHERE r.reading_time >= '01:00:00' AND r.reading_time < '02:00:00'
   AND r.reading_date = DATE(CONCAT(YEAR(r.reading_date), '-03-31'))
         - INTERVAL (DAYOFWEEK(DATE(CONCAT(YEAR(r.reading_date), '-03-31'))) - 1) DAY
ON DUPLICATE KEY UPDATE reason = VALUES(reason);

INSERT INTO meter_readings_003
  (meter_id, reading_interval, start_utc, settlement_date, period_number, reading_value, reading_type,
   import_batch_id)
SELECT c.meter_id, c.reading_interval, c.start_utc, c.reading_date,
       IF(c.reading_interval = 'daily', NULL,
          TIMESTAMPDIFF(MINUTE, TIMESTAMP(c.reading_date) - INTERVAL c.midnight_bst HOUR, c.start_utc) DIV 30 + 1),
       c.reading_value, c.reading_type, c.import_batch_id
  FROM (
    SELECT d.*,
           TIMESTAMP(d.reading_date, d.reading_time) - INTERVAL (
             (d.reading_date > d.spring AND d.reading_date < d.autumn)
             OR (d.reading_date = d.spring AND d.reading_time >= '02:00:00')
             OR (d.reading_date = d.autumn AND d.reading_time < '02:00:00')
           ) HOUR AS start_utc,
           (d.reading_date > d.spring AND d.reading_date <= d.autumn) AS midnight_bst
      FROM (
        SELECT r.*,
               DATE(CONCAT(YEAR(r.reading_date), '-03-31'))
                 - INTERVAL (DAYOFWEEK(DATE(CONCAT(YEAR(r.reading_date), '-03-31'))) - 1) DAY AS spring,
               DATE(CONCAT(YEAR(r.reading_date), '-10-31'))
                 - INTERVAL (DAYOFWEEK(DATE(CONCAT(YEAR(r.reading_date), '-10-31'))) - 1) DAY AS autumn
          FROM meter_readings AS r
      ) AS d
     WHERE NOT (d.reading_date = d.spring AND d.reading_time >= '01:00:00' AND d.reading_time < '02:00:00')
  ) AS c
ON DUPLICATE KEY UPDATE
  settlement_date = VALUES(settlement_date),
  period_number = VALUES(period_number),
  reading_value = VALUES(reading_value),
  reading_type = VALUES(reading_type),
  import_batch_id = VALUES(import_batch_id);

RENAME TABLE meter_readings TO meter_readings_pre_003, meter_readings_003 TO meter_readings;

DROP TABLE meter_readings_pre_003;
