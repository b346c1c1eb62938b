// `npx tsx bench/migrate-readings.ts`: how long migration 003 takes on a populated meter_readings.
// Fills the old shape with BENCH_METERS meters × 365 days × 48 local half-hours (2025), then times the
// migration through the project's runner. Own database, dropped after.

import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createConnection } from 'mysql2/promise';
import { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { applyMigrations, readMigrations } from '../lib/migrate.js';

const METERS = Number(process.env.BENCH_METERS ?? 57);
const host = process.env.DB_HOST ?? '127.0.0.1';
const port = Number(process.env.DB_PORT ?? 3306);
const suffix = randomBytes(4).toString('hex');
const database = `bench_migrate_${suffix}`;
const admin = await createConnection({
  host,
  port,
  user: process.env.DB_ROOT_USER ?? 'root',
  password: process.env.DB_ROOT_PASSWORD ?? '',
});
await admin.query(`CREATE DATABASE \`${database}\``);
try {
  const config = loadConfig({
    DB_HOST: host,
    DB_PORT: String(port),
    DB_NAME: database,
    DB_USER: process.env.DB_ROOT_USER ?? 'root',
    DB_PASSWORD: process.env.DB_ROOT_PASSWORD ?? '',
  });
  const migrations = await readMigrations(fileURLToPath(new URL('../migrations/', import.meta.url)));
  await withConnection(config.db, (db) =>
    applyMigrations(
      db,
      migrations.filter((m) => m.version < 3),
    ),
  );
  await admin.query(`USE \`${database}\``);
  await admin.query('INSERT INTO meters (id, mpan) VALUES ?', [
    Array.from({ length: METERS }, (_, i) => [i + 1, `E${i + 1}`]),
  ]);
  const start = Date.parse('2025-01-01T00:00:00Z');
  for (let meter = 1; meter <= METERS; meter++) {
    const rows: unknown[][] = [];
    for (let day = 0; day < 365; day++) {
      const date = new Date(start + day * 86_400_000).toISOString().slice(0, 10);
      for (let p = 0; p < 48; p++) {
        const time = `${String(p >> 1).padStart(2, '0')}:${p % 2 ? '30' : '00'}:00`;
        rows.push([meter, 'hh', date, time, p + 1, (p % 9) + 0.5, 'actual', null]);
      }
    }
    await admin.query(
      `INSERT INTO meter_readings (meter_id, reading_interval, reading_date, reading_time, period_number,
         reading_value, reading_type, import_batch_id) VALUES ?`,
      [rows],
    );
  }
  const total = METERS * 365 * 48;
  const started = Date.now();
  await withConnection(config.db, (db) => applyMigrations(db, migrations));
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `migration 003: ${total.toLocaleString('en-GB')} readings in ${seconds.toFixed(1)} s ` +
      `(${Math.round(total / seconds).toLocaleString('en-GB')} rows/s)`,
  );
} finally {
  await admin.query(`DROP DATABASE \`${database}\``);
  await admin.end();
}
