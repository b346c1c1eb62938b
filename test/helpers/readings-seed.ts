// Readings for the console's chart test: one seeding function (the only place that knows the readings
// schema, so it is the one thing to adapt when the schema changes), and a stand-in for
// GET /api/meters/{meter}/readings until the read API (issue 12) is on this branch. The stand-in
// answers in that route's documented shape from the seeded rows; drop it once the real route exists.

import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { RowDataPacket } from 'mysql2/promise';
import { type HttpResponse, json } from '../../lib/http.js';
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
      rows.push([meterId, 'hh', date, time, period, kwh, estimated.has(key) ? 'estimated' : 'actual']);
    }
  }
  await testDb.admin.query(
    `INSERT INTO meter_readings
       (meter_id, reading_interval, reading_date, reading_time, period_number, reading_value, reading_type)
     VALUES ?`,
    [rows],
  );
  return { meter: options.meter, readings: rows.length };
}

/** Answers GET /api/meters/{meter}/readings from the seeded rows; undefined for any other request. */
export function readingsStandIn(
  testDb: TestDatabase,
  token: string,
): (event: APIGatewayProxyEventV2) => Promise<HttpResponse> | undefined {
  return (event) => {
    const match = /^\/api\/meters\/([^/]+)\/readings$/.exec(event.rawPath);
    if (match?.[1] === undefined || event.requestContext.http.method !== 'GET') return undefined;
    const meter = decodeURIComponent(match[1]);
    return (async () => {
      if (event.headers.authorization !== `Bearer ${token}`) return json(401, { error: 'Unauthorized' });
      const query = event.queryStringParameters ?? {};
      const { from, to } = query;
      if (from === undefined || to === undefined) return json(400, { error: 'from and to are required' });
      const interval = query.interval === 'daily' ? 'daily' : 'hh';
      const [meters] = await testDb.admin.query<RowDataPacket[]>('SELECT id FROM meters WHERE mpan = ?', [
        meter,
      ]);
      if (meters[0] === undefined) return json(404, { error: 'Meter not found' });
      const [rows] = await testDb.admin.query<RowDataPacket[]>(
        `SELECT DATE_FORMAT(reading_date, '%Y-%m-%d') AS d, TIME_FORMAT(reading_time, '%H:%i:%s') AS t,
                period_number AS p, reading_value AS v, reading_type AS k
           FROM meter_readings
          WHERE meter_id = ? AND reading_interval = ? AND reading_date BETWEEN ? AND ?
          ORDER BY reading_date, reading_time`,
        [meters[0].id, interval, from, to],
      );
      return json(200, {
        meter,
        interval,
        readings: rows.map((row) => ({
          settlement_date: row.d,
          period: row.p,
          start: `${row.d}T${row.t}Z`,
          kwh: String(row.v),
          type: row.k,
        })),
        next_cursor: null,
      });
    })();
  };
}
