// Readings for the console's chart test, written straight to meter_readings (the only place in the
// console's tests that knows the readings schema): gaps and estimated readings where the test wants them.

import type { RowDataPacket } from 'mysql2/promise';
import type { TestDatabase } from './database.js';

export type SeededReadings = { readonly meter: string; readonly readings: number };

/**
 * Half-hourly readings for `meter`, every period of each day from `from` for `days` days, except the
 * `missing` ones (`YYYY-MM-DD#period`); `estimated` ones are stored as estimated. Dates must be in
 * GMT (no clock change), where period p starts at (p − 1) × 30 minutes UTC.
 */
export async function seedHalfHourReadings(
  testDb: TestDatabase,
  options: {
    meter: string;
    from: string;
    days: number;
    missing?: readonly string[];
    estimated?: readonly string[];
  },
): Promise<SeededReadings> {
  const missing = new Set(options.missing ?? []);
  const estimated = new Set(options.estimated ?? []);
  await testDb.admin.query('INSERT INTO meters (mpan, is_half_hourly) VALUES (?, 1)', [options.meter]);
  const [meters] = await testDb.admin.query<RowDataPacket[]>('SELECT id FROM meters WHERE mpan = ?', [
    options.meter,
  ]);
  const meterId = Number(meters[0]?.id);
  const rows: (string | number)[][] = [];
  const start = Date.parse(`${options.from}T00:00:00Z`);
  for (let day = 0; day < options.days; day++) {
    const date = new Date(start + day * 86_400_000).toISOString().slice(0, 10);
    for (let period = 1; period <= 48; period++) {
      const key = `${date}#${period}`;
      if (missing.has(key)) continue;
      const minutes = (period - 1) * 30;
      const time = `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}:00`;
      // A daily shape: low at night, a morning and an evening peak.
      const kwh = (
        0.3 +
        Math.sin((period / 48) * Math.PI) ** 2 * 1.2 +
        (period > 34 && period < 42 ? 0.8 : 0)
      ).toFixed(4);
      // In GMT the settlement day is the UTC day.
      rows.push([
        meterId,
        'hh',
        `${date} ${time}`,
        date,
        period,
        kwh,
        estimated.has(key) ? 'estimated' : 'actual',
      ]);
    }
  }
  await testDb.admin.query(
    `INSERT INTO meter_readings
       (meter_id, reading_interval, start_utc, settlement_date, period_number, reading_value, reading_type)
     VALUES ?`,
    [rows],
  );
  return { meter: options.meter, readings: rows.length };
}
