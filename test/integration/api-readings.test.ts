// GET /api/meters/{meter}/readings through the real api handler on the new schema (readings seeded
// with SQL, since the processor is not yet wired to it): a whole year read back with the right UTC
// starts, the clock-change days, paging, daily readings, every 400/404, and one connection per request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, bodyOf, type Call, caller, migrate } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { datesOfYear, halfHoursOf } from '../helpers/layout-files.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

let testDb: TestDatabase;
let call: Call;
const METER = '1200000000001';
const year = halfHoursOf(datesOfYear(2025));

function sqlUtc(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 3 });
  await migrate(testDb);
  await testDb.admin.query("INSERT INTO meters (id, mpan) VALUES (1, ?), (2, 'E2/B')", [METER]);
  const rows = year.map((h) => [1, 'hh', sqlUtc(h.startUtcMs), h.date, h.period, h.kwh, h.type]);
  for (let i = 0; i < rows.length; i += 5000) {
    await testDb.admin.query(
      `INSERT INTO meter_readings
         (meter_id, reading_interval, start_utc, settlement_date, period_number, reading_value, reading_type)
       VALUES ?`,
      [rows.slice(i, i + 5000)],
    );
  }
  await testDb.admin.query(
    `INSERT INTO meter_readings
       (meter_id, reading_interval, start_utc, settlement_date, period_number, reading_value, reading_type)
     VALUES (1, 'daily', '2025-03-30 00:00:00', '2025-03-30', NULL, 30.5, 'actual'),
            (1, 'daily', '2025-10-25 23:00:00', '2025-10-26', NULL, 31.25, 'estimated'),
            (2, 'hh', '2025-01-01 00:00:00', '2025-01-01', 1, 1, 'actual')`,
  );
  call = caller(testDb);
}, 60_000);

afterAll(async () => {
  await testDb.drop();
});

proveSessionAccounting(() => testDb);

function get(meter: string, query: Record<string, string>, headers: Record<string, string> = AUTH) {
  return call(httpEvent('GET', `/api/meters/${meter}/readings`, { headers, query }));
}

type ReadingBody = {
  settlement_date: string;
  period: number | null;
  start: string;
  kwh: string;
  type: string;
};

function readingsOf(body: Record<string, unknown>): ReadingBody[] {
  if (!Array.isArray(body.readings)) throw new Error('no readings array');
  return body.readings;
}

describe('GET /api/meters/{meter}/readings', () => {
  it('reads back all 17,520 half-hours of 2025 in start order with their UTC starts', async () => {
    const seen: ReadingBody[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await get(METER, {
        from: '2025-01-01',
        to: '2025-12-31',
        limit: '10000',
        ...(cursor === null ? {} : { cursor }),
      });
      expect(response.statusCode).toBe(200);
      const body = bodyOf(response);
      expect(body.meter).toBe(METER);
      expect(body.interval).toBe('hh');
      seen.push(...readingsOf(body));
      cursor = typeof body.next_cursor === 'string' ? body.next_cursor : null;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(2);
    expect(seen).toHaveLength(17_520);
    const expected = year.map((h) => `${h.date} ${h.period} ${isoUtc(h.startUtcMs)} ${h.type}`);
    const actual = seen.map((r) => `${r.settlement_date} ${r.period} ${r.start} ${r.type}`);
    expect(actual.filter((line, i) => line !== expected[i]).slice(0, 5)).toEqual([]);
  });

  it('answers the example of the issue: the autumn day has 50 periods, period 5 at 01:00Z', async () => {
    const body = bodyOf(await get(METER, { from: '2025-10-26', to: '2025-10-26' }));
    const readings = readingsOf(body);
    expect(readings).toHaveLength(50);
    expect(readings[4]).toEqual({
      settlement_date: '2025-10-26',
      period: 5,
      start: '2025-10-26T01:00:00Z',
      kwh: expect.stringMatching(/^\d+\.\d{4}$/),
      type: expect.stringMatching(/^(actual|estimated)$/),
    });
    expect(readings[0]?.start).toBe('2025-10-25T23:00:00Z');
    expect(readings[49]?.start).toBe('2025-10-26T23:30:00Z');
    expect(body.next_cursor).toBeNull();
  });

  it('gives the spring day 46 periods, the last at 22:30Z', async () => {
    const readings = readingsOf(bodyOf(await get(METER, { from: '2025-03-30', to: '2025-03-30' })));
    expect(readings.map((r) => r.period)).toEqual(Array.from({ length: 46 }, (_, i) => i + 1));
    expect(readings[45]?.start).toBe('2025-03-30T22:30:00Z');
  });

  it('returns kWh as the stored DECIMAL string', async () => {
    const readings = readingsOf(
      bodyOf(await get(METER, { from: '2025-01-01', to: '2025-01-01', limit: '1' })),
    );
    expect(readings[0]?.kwh).toBe(`${Number(year[0]?.kwh).toFixed(4)}`);
  });

  it('pages 1000 by default', async () => {
    const body = bodyOf(await get(METER, { from: '2025-01-01', to: '2025-03-31' }));
    expect(readingsOf(body)).toHaveLength(1000);
    expect(typeof body.next_cursor).toBe('string');
  });

  it('returns daily readings with no period, starting at local midnight in UTC', async () => {
    const body = bodyOf(await get(METER, { from: '2025-01-01', to: '2025-12-31', interval: 'daily' }));
    expect(body.interval).toBe('daily');
    expect(readingsOf(body)).toEqual([
      {
        settlement_date: '2025-03-30',
        period: null,
        start: '2025-03-30T00:00:00Z',
        kwh: '30.5000',
        type: 'actual',
      },
      {
        settlement_date: '2025-10-26',
        period: null,
        start: '2025-10-25T23:00:00Z',
        kwh: '31.2500',
        type: 'estimated',
      },
    ]);
  });

  it('compares meter codes case-insensitively and accepts a percent-encoded slash', async () => {
    const body = bodyOf(await get('e2%2Fb', { from: '2025-01-01', to: '2025-01-01' }));
    expect(body.meter).toBe('E2/B');
    expect(readingsOf(body)).toHaveLength(1);
  });

  it('answers 200 with no readings for a known meter with none in range', async () => {
    const body = bodyOf(await get(METER, { from: '2026-01-01', to: '2026-01-31' }));
    expect(body).toEqual({ meter: METER, interval: 'hh', readings: [], next_cursor: null });
  });

  it('allows exactly 366 days and refuses 367', async () => {
    expect((await get(METER, { from: '2024-01-01', to: '2024-12-31' })).statusCode).toBe(200);
    const response = await get(METER, { from: '2024-01-01', to: '2025-01-01' });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error).toBe('The range from..to may span at most 366 days');
  });

  it.each([
    [{ to: '2025-01-01' }, 'from is required (YYYY-MM-DD)'],
    [{ from: '2025-01-01' }, 'to is required (YYYY-MM-DD)'],
    [
      { from: '2025-02-29', to: '2025-03-01' },
      'from must be a date YYYY-MM-DD between 1996-01-01 and 2100-12-31',
    ],
    [
      { from: '01/01/2025', to: '2025-03-01' },
      'from must be a date YYYY-MM-DD between 1996-01-01 and 2100-12-31',
    ],
    [{ from: '2025-01-02', to: '2025-01-01' }, 'from must not be after to'],
    [{ from: '2025-01-01', to: '2025-01-01', interval: 'HH' }, 'interval must be one of: hh, daily'],
    [{ from: '2025-01-01', to: '2025-01-01', limit: '0' }, 'limit must be a whole number from 1 to 10000'],
    [
      { from: '2025-01-01', to: '2025-01-01', limit: '10001' },
      'limit must be a whole number from 1 to 10000',
    ],
    [
      {
        from: '2025-01-01',
        to: '2025-01-01',
        cursor: Buffer.from('{"s":"2025-13-01T00:00:00Z"}').toString('base64url'),
      },
      'Invalid cursor: pass next_cursor from the previous page unchanged',
    ],
    [
      { from: '2025-01-01', to: '2025-01-01', cursor: "' OR 1=1" },
      'Invalid cursor: pass next_cursor from the previous page unchanged',
    ],
  ])('answers 400 for %j', async (query, message) => {
    const response = await get(METER, query);
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toEqual({ error: message });
  });

  it('answers 400 naming a malformed meter code, and 404 for an unknown one', async () => {
    const bad = await get('%3Dcmd%7C', { from: '2025-01-01', to: '2025-01-01' });
    expect(bad.statusCode).toBe(400);
    expect(String(bodyOf(bad).error)).toMatch(/^meter: Meter code "=cmd\|" may only hold/);
    const unknown = await get('1200000000002', { from: '2025-01-01', to: '2025-01-01' });
    expect(unknown.statusCode).toBe(404);
    expect(bodyOf(unknown)).toEqual({ error: 'Meter not found' });
  });

  it('answers 401 without a token before opening a connection', async () => {
    const response = await get(METER, { from: '2025-01-01', to: '2025-01-01' }, {});
    expect(response.statusCode).toBe(401);
    expect(await testDb.sessionCount()).toBe(0);
  });
});
