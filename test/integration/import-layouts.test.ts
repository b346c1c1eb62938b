// Issue 12 end to end: files in every supplier layout go through the real API upload and the real
// processor, and come back out through GET /api/meters/{meter}/readings at the right UTC instants.
// The clock-change bugs the issue lists each have a regression test here, named after the bug.
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessImportsHandler } from '../../functions/process-imports.js';
import { withConnection } from '../../lib/db.js';
import { type ProcessorOptions, processImports } from '../../lib/imports/processor.js';
import { AUTH, bodyOf, type Call, caller, csvUpload, migrate } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { readJob } from '../helpers/import-jobs.js';
import { fakeContext } from '../helpers/lambda.js';
import {
  datesOfYear,
  HALF_HOURLY_LAYOUTS,
  type HalfHour,
  halfHoursOf,
  writeLayoutFile,
} from '../helpers/layout-files.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

let testDb: TestDatabase;
let call: Call;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 3 });
  await migrate(testDb);
  call = caller(testDb);
});

afterAll(async () => {
  await testDb.drop();
});

proveSessionAccounting(() => testDb);

const year = halfHoursOf(datesOfYear(2025));
/** Layouts whose files carry an A/E flag per reading (the others read every value as actual). */
const FLAGGED = new Set([
  'hh-matrix-flags',
  'hh-time-flags',
  'hh-time-end-flags',
  'hh-interval',
  'hh-settlement',
]);

function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

async function upload(csv: string, query: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await call(csvUpload(gzipSync(csv), query, { 'content-encoding': 'gzip' }));
  return { statusCode: response.statusCode, ...bodyOf(response) };
}

async function uploadOk(csv: string, query: Record<string, string>): Promise<string> {
  const answer = await upload(csv, query);
  expect(answer).toMatchObject({ statusCode: 202 });
  return String(answer.batch_id);
}

async function processAll(overrides: Record<string, string> = {}) {
  const handler = createProcessImportsHandler(testDb.config({ IMPORT_STOP_MARGIN_MS: '1000', ...overrides }));
  return handler({}, fakeContext(120_000));
}

type ReadingBody = {
  settlement_date: string;
  period: number | null;
  start: string;
  kwh: string;
  type: string;
};

/** Every reading of a meter in a range through the API, following next_cursor. */
async function readBack(
  meter: string,
  from: string,
  to: string,
  interval: 'hh' | 'daily' = 'hh',
): Promise<ReadingBody[]> {
  const readings: ReadingBody[] = [];
  let cursor: string | null = null;
  do {
    const response = await call(
      httpEvent('GET', `/api/meters/${encodeURIComponent(meter)}/readings`, {
        headers: AUTH,
        query: { from, to, interval, limit: '10000', ...(cursor === null ? {} : { cursor }) },
      }),
    );
    expect(response.statusCode).toBe(200);
    const body = bodyOf(response);
    if (!Array.isArray(body.readings)) throw new Error('no readings array');
    readings.push(...body.readings);
    cursor = typeof body.next_cursor === 'string' ? body.next_cursor : null;
  } while (cursor !== null);
  return readings;
}

/** `date period startZ kwh type` per reading, as the API gives them and as the fixture expects them. */
function apiLines(readings: readonly ReadingBody[]): string[] {
  return readings.map((r) => `${r.settlement_date} ${r.period} ${r.start} ${Number(r.kwh)} ${r.type}`);
}

function expectedLines(halfHours: readonly HalfHour[], flagged: boolean): string[] {
  return halfHours.map(
    (h) => `${h.date} ${h.period} ${isoUtc(h.startUtcMs)} ${Number(h.kwh)} ${flagged ? h.type : 'actual'}`,
  );
}

describe('a year (2025) of one meter in every layout, through the API and the processor', () => {
  const meterOf = (index: number) => `1200000000${String(100 + index)}`;

  it('imports 17,520 readings per half-hourly layout and reads each back at its UTC start', async () => {
    const jobs = new Map<string, string>();
    for (const [index, layout] of HALF_HOURLY_LAYOUTS.entries()) {
      const meter = meterOf(index);
      const singleMeter = layout === 'hh-octopus';
      const csv = writeLayoutFile(layout, year, { meter });
      jobs.set(layout, await uploadOk(csv, { type: 'hh', ...(singleMeter ? { meter } : {}) }));
    }
    const result = await processAll();
    expect(result).toMatchObject({ task: 'import' });
    for (const [index, layout] of HALF_HOURLY_LAYOUTS.entries()) {
      const job = await readJob(testDb, jobs.get(layout) ?? '');
      expect({ layout, status: job.status, failed: job.failed_rows }).toEqual({
        layout,
        status: 'completed',
        failed: 0,
      });
      expect(job.summary).toMatchObject({
        meta: { format: layout, readings_written: 17_520 },
        quality: {
          meter_days: 365,
          complete_days: 365,
          missing_periods: 0,
          duplicates_in_file: 0,
          estimated: FLAGGED.has(layout) ? year.filter((h) => h.type === 'estimated').length : 0,
        },
      });
      const readings = await readBack(meterOf(index), '2025-01-01', '2025-12-31');
      expect(readings).toHaveLength(17_520);
      const expected = expectedLines(year, FLAGGED.has(layout));
      const actual = apiLines(readings);
      expect({ layout, mismatches: actual.filter((line, i) => line !== expected[i]).slice(0, 3) }).toEqual({
        layout,
        mismatches: [],
      });
    }
  }, 120_000);

  it('imports 365 daily readings, each at its local midnight in UTC', async () => {
    const meter = 'D2025';
    await uploadOk(writeLayoutFile('daily', year, { meter }), { type: 'daily' });
    await processAll();
    const readings = await readBack(meter, '2025-01-01', '2025-12-31', 'daily');
    expect(readings).toHaveLength(365);
    expect(readings.find((r) => r.settlement_date === '2025-03-30')?.start).toBe('2025-03-30T00:00:00Z');
    expect(readings.find((r) => r.settlement_date === '2025-03-31')?.start).toBe('2025-03-30T23:00:00Z');
    expect(readings.find((r) => r.settlement_date === '2025-10-26')?.start).toBe('2025-10-25T23:00:00Z');
    expect(readings.find((r) => r.settlement_date === '2025-10-27')?.start).toBe('2025-10-27T00:00:00Z');
    expect(readings.every((r) => r.period === null)).toBe(true);
  });
});

const HH_COLUMNS = Array.from({ length: 50 }, (_, i) => `HH${String(i + 1).padStart(2, '0')}`);

describe('regressions: the clock-change bugs of issue 12', () => {
  it('stores HH49 and HH50 of 26 Oct 2025 instead of dropping them, and no period an hour off', async () => {
    const autumn = Array.from({ length: 50 }, (_, i) => String(i + 1));
    const spring = Array.from({ length: 46 }, (_, i) => String(i + 1));
    const csv = [
      `MPAN,Date,${HH_COLUMNS.join(',')}`,
      `R1WIDE,26/10/2025,${autumn.join(',')}`,
      `R1WIDE,30/03/2025,${spring.join(',')},,,,`,
    ].join('\n');
    const batchId = await uploadOk(csv, { type: 'hh' });
    await processAll();
    expect((await readJob(testDb, batchId)).summary).toMatchObject({
      records_imported: 2,
      quality: { meter_days: 2, complete_days: 2, missing_periods: 0 },
    });
    const autumnReadings = await readBack('R1WIDE', '2025-10-26', '2025-10-26');
    expect(autumnReadings).toHaveLength(50);
    expect(autumnReadings.map((r) => [r.period, r.start, Number(r.kwh)])).toEqual(
      autumn.map((_, i) => [i + 1, isoUtc(Date.UTC(2025, 9, 25, 23) + i * 1_800_000), i + 1]),
    );
    const springReadings = await readBack('R1WIDE', '2025-03-30', '2025-03-30');
    // Period 3 starts at 01:00 GMT, which the clocks make 02:00 BST: no hour is skipped in UTC.
    expect(springReadings.map((r) => [r.period, r.start])).toEqual(
      spring.map((_, i) => [i + 1, isoUtc(Date.UTC(2025, 2, 30) + i * 1_800_000)]),
    );
  });

  it('refuses values in HH47/HH48 on the 46-period spring day and HH49 on a 48-period day as row errors', async () => {
    const row = (date: string, count: number) =>
      `R2WIDE,${date},${Array.from({ length: 50 }, (_, i) => (i < count ? '1' : '')).join(',')}`;
    const csv = [`MPAN,Date,${HH_COLUMNS.join(',')}`, row('30/03/2025', 47), row('01/06/2025', 49)].join(
      '\n',
    );
    const batchId = await uploadOk(csv, { type: 'hh' });
    await processAll();
    const job = await readJob(testDb, batchId);
    expect(job.status).toBe('failed');
    expect(job.summary?.errors).toEqual([
      'Row 1: Value in column HH47, but 2025-03-30 has 46 half-hours (the clocks go forward)',
      'Row 2: Value in column HH49, but 2025-06-01 has 48 half-hours',
    ]);
  });

  it('stores both 01:00 readings of the autumn night (BST, then GMT) instead of one overwriting the other', async () => {
    const csv = [
      'MPAN,ReadDateTime,ReadValue',
      'R3LONG,2025-10-26 00:30:00,1',
      'R3LONG,2025-10-26 01:00:00,2',
      'R3LONG,2025-10-26 01:30:00,3',
      'R3LONG,2025-10-26 01:00:00,4',
      'R3LONG,2025-10-26 01:30:00,5',
      'R3LONG,2025-10-26 02:00:00,6',
      'R3LONG,2025-10-26 01:00:00,7',
    ].join('\n');
    const batchId = await uploadOk(csv, { type: 'hh' });
    await processAll();
    expect(
      (await readBack('R3LONG', '2025-10-26', '2025-10-26')).map((r) => [r.period, r.start, r.kwh]),
    ).toEqual([
      [2, '2025-10-25T23:30:00Z', '1.0000'],
      [3, '2025-10-26T00:00:00Z', '2.0000'],
      [4, '2025-10-26T00:30:00Z', '3.0000'],
      [5, '2025-10-26T01:00:00Z', '4.0000'],
      [6, '2025-10-26T01:30:00Z', '5.0000'],
      [7, '2025-10-26T02:00:00Z', '6.0000'],
    ]);
    expect((await readJob(testDb, batchId)).summary?.errors).toEqual([
      'Row 7: Local time 2025-10-26 01:00 appears a third time for this meter; it happens only twice (BST, then GMT)',
    ]);
  });

  it('refuses 01:30 on the spring day as a time that does not exist, naming the clock change', async () => {
    const csv = [
      'MPAN,ReadDateTime,ReadValue',
      'R4LONG,2025-03-30 01:30,1',
      'R4LONG,2025-03-30 02:00,2',
    ].join('\n');
    const batchId = await uploadOk(csv, { type: 'hh' });
    await processAll();
    expect((await readJob(testDb, batchId)).summary?.errors).toEqual([
      'Row 1: Local time 2025-03-30 01:30 does not exist: UK clocks go forward from 01:00 GMT to 02:00 BST on 2025-03-30',
    ]);
    expect((await readBack('R4LONG', '2025-03-30', '2025-03-30')).map((r) => r.start)).toEqual([
      '2025-03-30T01:00:00Z',
    ]);
  });

  it('stores 01:00+01:00 and 01:00+00:00 as two readings instead of ignoring the offsets', async () => {
    const csv = [
      'MPAN,ReadDateTime,ReadValue',
      'R5ISO,2025-10-26T01:00:00+01:00,1',
      'R5ISO,2025-10-26T01:00:00+00:00,2',
      'R5ISO,2025-10-26T01:00:00Z,3',
    ].join('\n');
    const batchId = await uploadOk(csv, { type: 'hh' });
    await processAll();
    expect(
      (await readBack('R5ISO', '2025-10-26', '2025-10-26')).map((r) => [r.period, r.start, r.kwh]),
    ).toEqual([
      [3, '2025-10-26T00:00:00Z', '1.0000'],
      // +00:00 and Z are the same instant: the later value wins and is counted as a duplicate.
      [5, '2025-10-26T01:00:00Z', '3.0000'],
    ]);
    expect((await readJob(testDb, batchId)).summary?.quality).toMatchObject({ duplicates_in_file: 1 });
  });

  it('imports an Octopus Energy export (no meter column) with the meter named in the request', async () => {
    const autumn = year.filter((h) => h.date === '2025-10-26');
    const csv = writeLayoutFile('hh-octopus', autumn, { meter: 'unused' });
    expect(csv.startsWith(' Consumption (kwh), Estimated Cost Inc. Tax (p)')).toBe(true);
    const batchId = await uploadOk(csv, { type: 'hh', meter: 'A-1B2C3D4E' });
    await processAll();
    expect((await readJob(testDb, batchId)).summary).toMatchObject({ meta: { format: 'hh-octopus' } });
    const readings = await readBack('A-1B2C3D4E', '2025-10-26', '2025-10-26');
    expect(apiLines(readings)).toEqual(expectedLines(autumn, false));
  });

  it('imports half-hour columns labelled by time, start-labelled and end-labelled', async () => {
    const start = ['00:00', '00:30', '01:00', '01:30', '02:00'];
    const startLabels = Array.from(
      { length: 48 },
      (_, i) => `${String(Math.floor(i / 2)).padStart(2, '0')}:${i % 2 ? '30' : '00'}`,
    );
    const endLabels = Array.from({ length: 48 }, (_, i) =>
      String(Math.floor((i + 1) / 2) * 100 + ((i + 1) % 2) * 30),
    );
    const cells = startLabels.map((_, i) => String(i + 1));
    await uploadOk(`MPAN,Date,${startLabels.join(',')}\nR6START,2025-06-01,${cells.join(',')}\n`, {
      type: 'hh',
    });
    await uploadOk(`MPAN,Date,${endLabels.join(',')}\nR6END,2025-06-01,${cells.join(',')}\n`, { type: 'hh' });
    await processAll();
    for (const meter of ['R6START', 'R6END']) {
      const readings = await readBack(meter, '2025-06-01', '2025-06-01');
      expect(readings).toHaveLength(48);
      // June is BST: local 00:00 is 23:00Z the day before.
      expect(readings.slice(0, start.length).map((r) => [r.start, r.kwh])).toEqual([
        ['2025-05-31T23:00:00Z', '1.0000'],
        ['2025-05-31T23:30:00Z', '2.0000'],
        ['2025-06-01T00:00:00Z', '3.0000'],
        ['2025-06-01T00:30:00Z', '4.0000'],
        ['2025-06-01T01:00:00Z', '5.0000'],
      ]);
    }
  });
});

describe('the request names the meter and the layout', () => {
  const octopus = writeLayoutFile('hh-octopus', year.slice(0, 4), { meter: 'unused' });

  it('answers 422 for a file with no meter column and no meter parameter, saying to pass one', async () => {
    const answer = await upload(octopus, { type: 'hh' });
    expect(answer).toMatchObject({
      statusCode: 422,
      error: expect.stringContaining('or the request must name the meter (meter=<code>)'),
      details: {
        code: 'missing-meter-column',
        headers: [
          'Consumption (kwh)',
          'Estimated Cost Inc. Tax (p)',
          'Standing Charge Inc. Tax (p)',
          'Start',
          'End',
        ],
      },
    });
  });

  it('answers 422 for a meter parameter on a file that has a meter column', async () => {
    const answer = await upload('MPAN,ReadDateTime,ReadValue\nE1,2025-01-01 00:00,1\n', {
      type: 'hh',
      meter: 'E2',
    });
    expect(answer).toMatchObject({
      statusCode: 422,
      error: expect.stringMatching(/^The file has a meter column \(MPAN\), so it takes no meter parameter/),
      details: { code: 'meter-parameter-conflict', headers: ['MPAN', 'ReadDateTime', 'ReadValue'] },
    });
  });

  it('answers 400 for an unknown format, listing the names of the type', async () => {
    const answer = await upload('MPAN,ReadDateTime,ReadValue\nE1,2025-01-01 00:00,1\n', {
      type: 'hh',
      format: 'excel',
    });
    expect(answer).toMatchObject({
      statusCode: 400,
      error:
        'format must be one of the hh layouts: hh-matrix, hh-matrix-flags, hh-time, hh-time-flags, hh-time-end, hh-time-end-flags, hh-interval, hh-settlement, hh-octopus',
      details: { code: 'unknown-format' },
    });
  });

  it('answers 422 showing the headers when the named format does not fit them', async () => {
    const answer = await upload('MPAN,ReadDateTime,ReadValue\nE1,2025-01-01 00:00,1\n', {
      type: 'hh',
      format: 'hh-settlement',
    });
    expect(answer).toMatchObject({
      statusCode: 422,
      error: expect.stringMatching(/^The headers do not fit layout hh-settlement/),
      details: { headers: ['MPAN', 'ReadDateTime', 'ReadValue'] },
    });
  });

  it('keeps format and meter in the job, so an Idempotency-Key replay with another meter is refused', async () => {
    const key = { 'idempotency-key': randomUUID() };
    const first = await call(csvUpload(octopus, { type: 'hh', meter: 'K1', format: 'hh-octopus' }, key));
    expect(first.statusCode).toBe(202);
    const replay = await call(csvUpload(octopus, { type: 'hh', meter: 'K1', format: 'hh-octopus' }, key));
    expect(replay.statusCode).toBe(200);
    const other = await call(csvUpload(octopus, { type: 'hh', meter: 'K2', format: 'hh-octopus' }, key));
    expect(other.statusCode).toBe(422);
    await processAll();
    expect((await readBack('K1', '2025-01-01', '2025-01-01')).length).toBe(4);
  });
});

describe('quality and duplicates per job', () => {
  it.each(['insert', 'load'] as const)(
    'stores the later of two readings for one meter and instant in one batch (%s), counted in duplicates_in_file',
    async (mode) => {
      const meter = `R7DUP${mode}`;
      const csv = [
        'MPAN,ReadDateTime,ReadValue,ReadingType',
        `${meter},2025-01-01 00:00,1,A`,
        `${meter},2025-01-01 00:30,2,E`,
        `${meter},2025-01-01 00:00,3,E`,
      ].join('\n');
      const batchId = await uploadOk(csv, { type: 'hh' });
      await processAll({ IMPORT_WRITE_MODE: mode });
      expect(await readBack(meter, '2025-01-01', '2025-01-01')).toMatchObject([
        { start: '2025-01-01T00:00:00Z', kwh: '3.0000', type: 'estimated' },
        { start: '2025-01-01T00:30:00Z', kwh: '2.0000', type: 'estimated' },
      ]);
      expect((await readJob(testDb, batchId)).summary?.quality).toEqual({
        meter_days: 1,
        complete_days: 0,
        missing_periods: 46,
        duplicates_in_file: 1,
        estimated: 2,
      });
    },
  );

  it('reports quality on a dry run too, writing no reading', async () => {
    const day = year.filter((h) => h.date === '2025-03-30');
    const batchId = await uploadOk(writeLayoutFile('hh-settlement', day, { meter: 'R8DRY' }), {
      type: 'hh',
      dry_run: '1',
    });
    await processAll();
    expect((await readJob(testDb, batchId)).summary).toMatchObject({
      dry_run: true,
      meta: { format: 'hh-settlement', readings_to_write: 46 },
      quality: { meter_days: 1, complete_days: 1, missing_periods: 0, duplicates_in_file: 0 },
    });
    // Not even the meter is created.
    const [meters] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM \`${testDb.name}\`.meters WHERE mpan = 'R8DRY'`,
    );
    expect(Number(meters[0]?.n)).toBe(0);
  });

  it('resumes between the two autumn 01:00s and still stores the second as GMT', async () => {
    const night = ['00:00', '00:30', '01:00', '01:30', '01:00', '01:30', '02:00'];
    const csv = [
      'MPAN,ReadDateTime,ReadValue',
      ...night.map((t, i) => `R9RESUME,2025-10-26 ${t},${i + 1}`),
    ].join('\n');
    const batchId = await uploadOk(csv, { type: 'hh' });
    let calls = 0;
    const options = (remainingMs: () => number): ProcessorOptions => ({
      leaseOwner: randomUUID(),
      remainingMs,
      batchSize: 3,
      stopMarginMs: 1000,
      writeMode: 'auto',
    });
    // Time for the claim and the first batch of three rows (00:00, 00:30, the BST 01:00), then none.
    const first = await withConnection(testDb.config().db, (db) =>
      processImports(
        db,
        options(() => (calls++ < 5 ? 60_000 : 500)),
      ),
    );
    expect(first.map((outcome) => outcome.outcome)).toEqual(['released']);
    expect(await readJob(testDb, batchId)).toMatchObject({ status: 'queued', checkpoint_row: 3 });
    const second = await withConnection(testDb.config().db, (db) =>
      processImports(
        db,
        options(() => 60_000),
      ),
    );
    expect(second.map((outcome) => outcome.outcome)).toEqual(['completed']);
    expect((await readBack('R9RESUME', '2025-10-26', '2025-10-26')).map((r) => [r.start, r.kwh])).toEqual([
      ['2025-10-25T23:00:00Z', '1.0000'],
      ['2025-10-25T23:30:00Z', '2.0000'],
      ['2025-10-26T00:00:00Z', '3.0000'],
      ['2025-10-26T00:30:00Z', '4.0000'],
      ['2025-10-26T01:00:00Z', '5.0000'],
      ['2025-10-26T01:30:00Z', '6.0000'],
      ['2025-10-26T02:00:00Z', '7.0000'],
    ]);
    expect((await readJob(testDb, batchId)).summary?.quality).toEqual({
      meter_days: 1,
      complete_days: 0,
      missing_periods: 43,
      duplicates_in_file: 0,
      estimated: 0,
    });
  });
});
