-- The monitor's memory between runs: the last value it read of each server counter, with the server it
-- read it from and that server's uptime, so the next run publishes what moved in between (a restart
-- or a failover is recognised, not taken for a negative delta). Written only by the monitor's user.

CREATE TABLE IF NOT EXISTS monitor_counters (
  counter_name VARCHAR(128) NOT NULL PRIMARY KEY,
  server_key VARCHAR(255) NOT NULL,
  uptime_seconds BIGINT UNSIGNED NOT NULL,
  counter_value BIGINT UNSIGNED NOT NULL,
  read_at DATETIME(3) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
