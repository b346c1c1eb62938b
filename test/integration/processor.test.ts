import { randomUUID } from 'node:crypto';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { withConnection } from '../../lib/db.js';
import { cancelJob } from '../../lib/imports/job-repository.js';
import type { Reading } from '../../lib/imports/layouts/layout.js';
import { type ProcessorOptions, processImports } from '../../lib/imports/processor.js';
import { purgeFinishedJobs } from '../../lib/imports/processor-repository.js';
import { loadReadings, upsertReadings } from '../../lib/imports/reading-repository.js';
import type { WriteMode } from '../../lib/imports/write-mode.js';
import { logger } from '../../lib/logger.js';
import { ADMIN_CONNECTION, createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  intervalCsv,
  type JobRow,
  migrate,
  queueJob,
  readingLines,
  readJob,
  runProcessor,
  tableCounts,
} from '../helpers/import-jobs.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 6 });
  await migrate(testDb);
});

afterAll(async () => {
  await testDb.drop();
});

/** Waits until one of the app user's statements waits for a table's metadata lock. */
async function waitForMetadataLockWait(): Promise<void> {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND STATE LIKE '%metadata lock%'`,
      [testDb.user],
    );
    if (Number(rows[0]?.n) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the processor never waited for the metadata lock');
}

async function clearTables(): Promise<void> {
  for (const table of ['import_jobs', 'meter_readings', 'meters', 'sites']) {
    await testDb.admin.query(`DELETE FROM \`${testDb.name}\`.${table}`);
  }
}

beforeEach(async () => {
  await clearTables();
});

// Every handler test proves the connection accounting: 0 app-user sessions before and after it.
proveSessionAccounting(() => testDb);

/** Bytes of the header and the first `rows` lines of a file with one record per line. */
function bytesThroughRow(csv: string, rows: number): number {
  return Buffer.byteLength(
    `${csv
      .split('\n')
      .slice(0, rows + 1)
      .join('\n')}\n`,
  );
}

/** Runs until the job is released after its first committed batch; returns the job's row then. */
async function releaseAfterFirstBatch(batchId: string, batchSize: number): Promise<JobRow> {
  let flushes = 0;
  const [outcome] = await run({ batchSize, remainingMs: () => (flushes++ < 3 ? 60_000 : 500) });
  expect(outcome?.outcome).toBe('released');
  return readJob(testDb, batchId);
}

/** Each processor test runs once per way of writing readings; `run` uses the block's mode. */
let writeMode: WriteMode = 'insert';

function run(options: Partial<ProcessorOptions> = {}) {
  return runProcessor(testDb, { batchSize: 1000, writeMode, ...options });
}

const INTERVAL = [
  'MPAN,ReadDateTime,ReadValue,Unit,ReadingType',
  'E06BG12862,2024-11-09 00:00:00,5.6,kWh,A',
  'E06BG12862,2024-11-09 00:30:00,5600,Wh,E',
  'M1234567,09/11/2024 23:30,0.001,MWh,',
  'E06BG12862,31/02/2024 00:00,1,kWh,A',
  ',2024-11-09 01:00:00,1,kWh,A',
].join('\n');

describe.each(['insert', 'load'] as const)('processImports writing with %s', (mode) => {
  beforeAll(() => {
    writeMode = mode;
  });

  it('imports an interval file exactly, auto-creating meters, and completes the job with its summary', async () => {
    const job = await queueJob(testDb, { type: 'hh', csv: INTERVAL });
    const outcomes = await run();
    expect(outcomes).toEqual([
      { batchId: job.batchId, outcome: 'completed', processedRows: 5, importedRows: 3, failedRows: 2 },
    ]);
    expect(await readingLines(testDb)).toEqual([
      'E06BG12862 hh 2024-11-09 00:00:00 1 5.6000 actual',
      'E06BG12862 hh 2024-11-09 00:30:00 2 5.6000 estimated',
      'M1234567 hh 2024-11-09 23:30:00 48 1.0000 actual',
    ]);
    const row = await readJob(testDb, job.batchId);
    expect(row).toMatchObject({
      status: 'completed',
      total_rows: 5,
      processed_rows: 5,
      imported_rows: 3,
      failed_rows: 2,
      error_message: null,
      error_code: null,
      lease_owner: null,
    });
    expect(row.summary).toEqual({
      records_processed: 5,
      records_imported: 3,
      records_failed: 2,
      errors: [
        'Row 4: Invalid reading timestamp: Invalid date-time "31/02/2024 00:00"',
        'Row 5: Missing MPAN',
      ],
      successful: true,
      batch_id: job.batchId,
      dry_run: false,
      // Two meter-days of 48 periods: 2 + 1 present, 93 missing; the Wh row is flagged E.
      quality: { meter_days: 2, complete_days: 0, missing_periods: 93, duplicates_in_file: 0, estimated: 1 },
      meta: {
        format: 'hh-interval',
        column_mapping: expect.any(Object),
        unit_counts: { kWh: 1, Wh: 1, MWh: 1 },
        readings_written: 3,
        meters_created: 2,
      },
    });
    const [meters] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT m.mpan, m.meter_type, m.is_half_hourly, s.name FROM \`${testDb.name}\`.meters m
         JOIN \`${testDb.name}\`.sites s ON s.id = m.site_id ORDER BY m.mpan`,
    );
    expect(meters.map((m) => [m.mpan, m.meter_type, m.is_half_hourly, m.name])).toEqual([
      ['E06BG12862', 'electricity', 1, 'Auto-imported Meters'],
      ['M1234567', 'gas', 1, 'Auto-imported Meters'],
    ]);
  });

  it('keeps a daily reading apart from half-hour period 1 of the same meter and day', async () => {
    // A wide file names every period column (the registry needs at least 46 to call it wide).
    const periods = Array.from({ length: 48 }, (_, i) => `HH${String(i + 1).padStart(2, '0')}`);
    const cells = periods.map((_, i) => (i === 0 ? '1.5' : i === 47 ? '2.25' : ''));
    await queueJob(testDb, {
      type: 'hh',
      csv: `MPAN,Date,${periods.join(',')}\nE1,09/11/2024,${cells.join(',')}\n`,
    });
    await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-11-09,40\n' });
    const outcomes = await run();
    expect(outcomes.map((o) => o.outcome)).toEqual(['completed', 'completed']);
    expect(await readingLines(testDb)).toEqual([
      'E1 hh 2024-11-09 00:00:00 1 1.5000 actual',
      'E1 hh 2024-11-09 23:30:00 48 2.2500 actual',
      'E1 daily 2024-11-09 00:00:00 - 40.0000 actual',
    ]);
  });

  it('re-importing the same file updates readings instead of duplicating them', async () => {
    await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-11-09,40\n' });
    await run();
    await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-11-09,41.5\n' });
    await run();
    expect(await readingLines(testDb)).toEqual(['E1 daily 2024-11-09 00:00:00 - 41.5000 actual']);
  });

  it('imports sites and does not duplicate them when the file is imported again', async () => {
    const csv = [
      'name,company_id,postcode,site_type,floor_area,latitude,longitude,is_active',
      'Head Office,7,SW1A 1AA,office,1200.5,51.501,-0.1416,yes',
      'Depot,7,M1 1AE,warehouse,,,,0',
    ].join('\n');
    await queueJob(testDb, { type: 'sites', csv });
    const first = await run();
    await queueJob(testDb, { type: 'sites', csv: csv.replace('1200.5', '1300') });
    const second = await run();
    expect(first[0]?.outcome).toBe('completed');
    expect(second[0]?.outcome).toBe('completed');
    const [sites] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT name, company_id, postcode, site_type, floor_area, is_active FROM \`${testDb.name}\`.sites ORDER BY name`,
    );
    expect(
      sites.map((s) => [s.name, s.company_id, s.postcode, s.site_type, s.floor_area, s.is_active]),
    ).toEqual([
      ['Depot', 7, 'M1 1AE', 'warehouse', null, 0],
      ['Head Office', 7, 'SW1A 1AA', 'office', '1300.00', 1],
    ]);
  });

  it('counts only new sites as created: re-importing an unchanged sites file reports 0', async () => {
    const csv = 'name,postcode,floor_area\nHead Office,SW1A 1AA,1200.5\nDepot,M1 1AE,\n';
    const sitesCreated = async (file: string) => {
      const job = await queueJob(testDb, { type: 'sites', csv: file });
      await run();
      const row = await readJob(testDb, job.batchId);
      expect(row.status).toBe('completed');
      return (row.summary?.meta as { sites_created?: unknown } | undefined)?.sites_created;
    };
    expect(await sitesCreated(csv)).toBe(2);
    expect(await sitesCreated(csv)).toBe(0);
    // One changed (floor area), one unchanged, one new: only the new one was created.
    expect(await sitesCreated(`${csv.replace('1200.5', '1300')}Annex,M1 1AE,10\n`)).toBe(1);
    // A one-row file takes the single-row path (no Records/Duplicates info from the server).
    expect(await sitesCreated('name,postcode\nKiosk,E1 6AN\n')).toBe(1);
    expect(await sitesCreated('name,postcode\nKiosk,E1 6AN\n')).toBe(0);
    expect(await sitesCreated('name,postcode,floor_area\nKiosk,E1 6AN,5\n')).toBe(0);
    // The same new site twice in one file (and one batch) is one site created.
    expect(await sitesCreated('name,postcode\nStore,LS1 1AA\nstore,ls11aa\n')).toBe(1);
    expect((await tableCounts(testDb)).sites).toBe(5);
  });

  it('a dry run reports what a real run would and writes nothing but the job row', async () => {
    const dry = await queueJob(testDb, { type: 'hh', csv: INTERVAL, dryRun: true });
    const before = await tableCounts(testDb);
    await run();
    expect(await tableCounts(testDb)).toEqual(before);
    const dryRow = await readJob(testDb, dry.batchId);
    const real = await queueJob(testDb, { type: 'hh', csv: INTERVAL });
    await run();
    const realRow = await readJob(testDb, real.batchId);
    expect(dryRow.status).toBe('completed');
    expect(dryRow.summary).toMatchObject({
      dry_run: true,
      meta: { readings_to_write: 3, meters_to_create: 2 },
    });
    for (const field of [
      'records_processed',
      'records_imported',
      'records_failed',
      'errors',
      'successful',
    ] as const) {
      expect(dryRow.summary?.[field]).toEqual(realRow.summary?.[field]);
    }
  });

  it('fails a job in which no row could be imported, instead of completing it', async () => {
    const job = await queueJob(testDb, {
      type: 'daily',
      csv: 'MPAN,Date,Reading\nE1,2024-13-01,1\nE2,2024-01-01,abc\n',
    });
    const [outcome] = await run();
    expect(outcome?.outcome).toBe('failed');
    const row = await readJob(testDb, job.batchId);
    expect(row.status).toBe('failed');
    expect(row.error_message).toBe('No row could be imported: 2 of 2 rows failed');
    expect(row.error_code).toBe('FORMAT_ERROR');
    expect(row.summary?.errors).toEqual([
      'Row 1: Invalid date value "2024-13-01"',
      'Row 2: Non-numeric reading value "abc"',
    ]);
  });

  it('keeps at most 50 row errors while counting every failed row', async () => {
    const lines = ['MPAN,Date,Reading', 'E1,2024-01-01,1'];
    for (let i = 0; i < 120; i++) lines.push(`E1,2024-01-01,bad${i}`);
    const job = await queueJob(testDb, { type: 'daily', csv: lines.join('\n') });
    await run();
    const row = await readJob(testDb, job.batchId);
    expect(row.failed_rows).toBe(120);
    expect(row.summary?.errors).toHaveLength(50);
    expect((row.summary?.errors as string[] | undefined)?.[49]).toBe(
      'Row 51: Non-numeric reading value "bad49"',
    );
  });

  it('fails a file-level error at once, without retries', async () => {
    const job = await queueJob(testDb, { type: 'hh', csv: 'ReadDateTime,Value\n2024-01-01 00:00,1\n' });
    const [outcome] = await run();
    expect(outcome?.outcome).toBe('failed');
    const row = await readJob(testDb, job.batchId);
    expect(row).toMatchObject({ status: 'failed', retry_count: 0, retry_at: null });
    expect(row.error_message).toMatch(/^CSV must include a column containing the meter identifier/);
    expect(row.error_code).toBe('FORMAT_ERROR');
  });

  it('claims by priority, then by queue time', async () => {
    const low = await queueJob(testDb, {
      type: 'daily',
      csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n',
      priority: 'low',
    });
    const normal = await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-01-02,1\n' });
    const critical = await queueJob(testDb, {
      type: 'daily',
      csv: 'MPAN,Date,Reading\nE1,2024-01-03,1\n',
      priority: 'critical',
    });
    const older = await queueJob(testDb, {
      type: 'daily',
      csv: 'MPAN,Date,Reading\nE1,2024-01-04,1\n',
      queuedAt: '2020-01-01 00:00:00',
    });
    const outcomes = await run();
    expect(outcomes.map((o) => o.batchId)).toEqual([
      critical.batchId,
      older.batchId,
      normal.batchId,
      low.batchId,
    ]);
  });

  it('two processors racing over 20 jobs never share one', async () => {
    const jobs = [];
    for (let i = 0; i < 20; i++) {
      jobs.push(await queueJob(testDb, { type: 'daily', csv: `MPAN,Date,Reading\nE${i},2024-01-01,${i}\n` }));
    }
    const [a, b] = await Promise.all([run(), run()]);
    const taken = [...(a ?? []), ...(b ?? [])].map((o) => o.batchId);
    expect(taken).toHaveLength(20);
    expect(new Set(taken).size).toBe(20);
    expect(new Set(taken)).toEqual(new Set(jobs.map((j) => j.batchId)));
    expect((await readingLines(testDb)).length).toBe(20);
  });

  it('stops before its deadline, releases the job, and the next run resumes to exactly the expected readings', async () => {
    const { csv, readings } = intervalCsv(5, 10); // 2,400 readings
    const job = await queueJob(testDb, { type: 'hh', csv });
    let flushes = 0;
    const first = await run({
      batchSize: 500,
      stopMarginMs: 1000,
      // Plenty of time for two batches, then "almost out of time".
      remainingMs: () => (flushes++ < 3 ? 60_000 : 500),
    });
    expect(first[0]?.outcome).toBe('released');
    const released = await readJob(testDb, job.batchId);
    expect(released).toMatchObject({ status: 'queued', lease_owner: null, retry_count: 0 });
    expect(released.checkpoint_row).toBeGreaterThan(0);
    expect(released.checkpoint_row).toBeLessThan(readings);
    // The released run reports what it committed, not the batch it had parsed when time ran out.
    expect(first[0]).toMatchObject({
      processedRows: released.checkpoint_row,
      importedRows: released.checkpoint_row,
      failedRows: 0,
    });
    expect(released.processed_rows).toBe(released.checkpoint_row);
    // The checkpoint's byte offset is just after its last row (the header is line 1).
    expect(released.checkpoint_byte_offset).toBe(bytesThroughRow(csv, released.checkpoint_row));
    const second = await run({ batchSize: 500 });
    expect(second[0]?.outcome).toBe('completed');
    // The database store cannot be entered mid-stream: its bytes are re-read and dropped, not parsed.
    expect(second[0]?.resumed).toMatchObject({ seek: 'skip', byteOffset: released.checkpoint_byte_offset });
    const lines = await readingLines(testDb);
    expect(lines).toHaveLength(readings);
    expect(lines).toContain('E000000004 hh 2024-01-10 23:30:00 48 13.4700 actual');
    expect(await readJob(testDb, job.batchId)).toMatchObject({
      processed_rows: readings,
      imported_rows: readings,
      total_rows: readings,
    });
  });

  it('resumes a job checkpointed before byte offsets existed by skipping its rows again', async () => {
    const { csv, readings } = intervalCsv(3, 10); // 1,440 readings
    const job = await queueJob(testDb, { type: 'hh', csv });
    const released = await releaseAfterFirstBatch(job.batchId, 400);
    expect(released.checkpoint_row).toBeGreaterThan(0);
    // What a checkpoint written by the previous release looks like: a row count, no offset.
    await testDb.admin.query(
      `UPDATE \`${testDb.name}\`.import_jobs SET checkpoint_byte_offset = 0, checkpoint_state = JSON_REMOVE(checkpoint_state, '$.nextLine') WHERE batch_id = ?`,
      [job.batchId],
    );
    const [second] = await run({ batchSize: 400 });
    expect(second).toEqual({
      batchId: job.batchId,
      outcome: 'completed',
      processedRows: readings,
      importedRows: readings,
      failedRows: 0,
    });
    expect(await readingLines(testDb)).toHaveLength(readings);
    const done = await readJob(testDb, job.batchId);
    expect(done).toMatchObject({ status: 'completed', checkpoint_byte_offset: Buffer.byteLength(csv) });
  });

  it('names the same line in a format error after resuming past quoted line breaks and blank lines', async () => {
    // Long enough that the bad record comes in a later chunk than the first batch.
    const rows = Array.from({ length: 3000 }, (_, i) =>
      i % 3 === 0
        ? `E${100 + i},2024-11-09 00:00:00,${i},kWh,A,"read on\r\nsite\nvisit"\n\n`
        : `E${100 + i},2024-11-09 00:30:00,${i},kWh,A,\n`,
    );
    const tooWide = `E999,${Array.from({ length: 1000 }, () => 'x').join(',')}\n`;
    const csv = `MPAN,ReadDateTime,ReadValue,Unit,ReadingType,Notes\n${rows.join('')}${tooWide}`;
    const fresh = await queueJob(testDb, { type: 'hh', csv });
    const [straight] = await run({ batchSize: 1000 });
    expect(straight?.outcome).toBe('failed');
    const expected = (await readJob(testDb, fresh.batchId)).error_message;
    // Lines: header 1, then 1,000 × (3-line quoted record + blank line + 2 plain) = 6,000 → line 6,002.
    expect(expected).toBe('Line 6002: record has more than 1000 columns');
    await clearTables();
    const resumed = await queueJob(testDb, { type: 'hh', csv });
    // Its first batch ends on row 4, a quoted record spanning three lines.
    const released = await releaseAfterFirstBatch(resumed.batchId, 4);
    expect(released.checkpoint_row).toBe(4);
    const info = vi.spyOn(logger, 'info');
    const [second] = await run({ batchSize: 4 });
    const logged = info.mock.calls.filter(([message]) => message === 'import resumed from its checkpoint');
    info.mockRestore();
    expect(logged).toEqual([
      [
        'import resumed from its checkpoint',
        {
          batchId: resumed.batchId,
          seek: 'skip',
          byteOffset: released.checkpoint_byte_offset,
          reachedMs: expect.any(Number),
        },
      ],
    ]);
    expect([second?.outcome, (await readJob(testDb, resumed.batchId)).error_message]).toEqual([
      'failed',
      expected,
    ]);
  });

  it('re-queues a transient failure with backoff, honours retry_at, and completes once it passes', async () => {
    const job = await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n' });
    await testDb.admin.query(
      `RENAME TABLE \`${testDb.name}\`.meter_readings TO \`${testDb.name}\`.mr_hidden`,
    );
    try {
      const [outcome] = await run();
      expect(outcome?.outcome).toBe('requeued');
    } finally {
      await testDb.admin.query(
        `RENAME TABLE \`${testDb.name}\`.mr_hidden TO \`${testDb.name}\`.meter_readings`,
      );
    }
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT TIMESTAMPDIFF(SECOND, NOW(3), retry_at) AS wait_s FROM \`${testDb.name}\`.import_jobs WHERE batch_id = ?`,
      [job.batchId],
    );
    expect(Number(rows[0]?.wait_s)).toBeGreaterThanOrEqual(58);
    expect(Number(rows[0]?.wait_s)).toBeLessThanOrEqual(60);
    const requeued = await readJob(testDb, job.batchId);
    expect(requeued).toMatchObject({ status: 'queued', retry_count: 1 });
    // The driver's text names the table and schema: the job row gets a code and a safe message instead.
    expect(requeued).toMatchObject({
      error_code: 'DATABASE_ERROR',
      last_error: 'A database error stopped the import',
    });
    expect(await run()).toEqual([]);
    await testDb.admin.query(
      `UPDATE \`${testDb.name}\`.import_jobs SET retry_at = NOW(3) - INTERVAL 1 SECOND WHERE batch_id = ?`,
      [job.batchId],
    );
    const [done] = await run();
    expect(done?.outcome).toBe('completed');
    expect(await readingLines(testDb)).toEqual(['E1 daily 2024-01-01 00:00:00 - 1.0000 actual']);
  });

  it('a re-queued run reports the rows it committed before the error', async () => {
    // 4,800 readings in batches of 400; the table vanishes a few batches in.
    const { csv, readings } = intervalCsv(10, 10);
    const job = await queueJob(testDb, { type: 'hh', csv });
    let flushes = 0;
    let hiding: Promise<unknown> | undefined;
    try {
      const [outcome] = await run({
        batchSize: 400,
        remainingMs: () => {
          if (++flushes === 8) {
            hiding = testDb.admin.query(
              `RENAME TABLE \`${testDb.name}\`.meter_readings TO \`${testDb.name}\`.mr_hidden`,
            );
          }
          return 60_000;
        },
      });
      const requeued = await readJob(testDb, job.batchId);
      expect(outcome?.outcome).toBe('requeued');
      expect(requeued.status).toBe('queued');
      expect(requeued.checkpoint_row).toBeGreaterThan(0);
      expect(requeued.checkpoint_row).toBeLessThan(readings);
      expect(outcome).toMatchObject({
        processedRows: requeued.checkpoint_row,
        importedRows: requeued.checkpoint_row,
        failedRows: 0,
      });
    } finally {
      await hiding;
      await testDb.admin.query(
        `RENAME TABLE \`${testDb.name}\`.mr_hidden TO \`${testDb.name}\`.meter_readings`,
      );
    }
  });

  it('does not count rows whose cells are all empty as processed', async () => {
    const job = await queueJob(testDb, {
      type: 'daily',
      csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n,,\nE1,2024-01-02,x\n , ,\nE1,2024-01-03,3\n',
    });
    const [outcome] = await run();
    expect(outcome).toMatchObject({ outcome: 'completed', processedRows: 3, importedRows: 2, failedRows: 1 });
    const row = await readJob(testDb, job.batchId);
    expect(row).toMatchObject({ total_rows: 3, processed_rows: 3, imported_rows: 2, failed_rows: 1 });
    // Row numbers still count every record, so an error names the line a person would look at.
    expect(row.summary?.errors).toEqual(['Row 3: Non-numeric reading value "x"']);
  });

  it('fails a file of blank rows as having no data rows', async () => {
    const job = await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\n,,\n,,\n' });
    const [outcome] = await run();
    expect(outcome).toMatchObject({ outcome: 'failed', processedRows: 0, detail: 'No data rows' });
    expect(await readJob(testDb, job.batchId)).toMatchObject({
      status: 'failed',
      error_message: 'No data rows',
    });
  });

  it('reports a job cancelled while it was being failed as cancelled, not failed', async () => {
    const job = await queueJob(testDb, {
      type: 'daily',
      csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n',
      metadata: { default_site_id: 999_999 },
    });
    // The processor's "does the site exist" read waits behind this lock while the job is cancelled.
    const locker = await createConnection({ ...ADMIN_CONNECTION, database: testDb.name });
    try {
      await locker.query('LOCK TABLES sites WRITE');
      const running = run();
      await waitForMetadataLockWait();
      expect(await withConnection(testDb.config().db, (db) => cancelJob(db, job.batchId))).toMatchObject({
        outcome: 'done',
      });
      await locker.query('UNLOCK TABLES');
      const [outcome] = await running;
      expect(outcome?.outcome).toBe('cancelled');
    } finally {
      await locker.end();
    }
    expect((await readJob(testDb, job.batchId)).status).toBe('cancelled');
  });

  it('fails a transiently failing job once its retries are spent', async () => {
    const job = await queueJob(testDb, {
      type: 'daily',
      csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n',
      maxRetries: 0,
    });
    await testDb.admin.query(
      `RENAME TABLE \`${testDb.name}\`.meter_readings TO \`${testDb.name}\`.mr_hidden`,
    );
    try {
      const [outcome] = await run();
      expect(outcome?.outcome).toBe('failed');
    } finally {
      await testDb.admin.query(
        `RENAME TABLE \`${testDb.name}\`.mr_hidden TO \`${testDb.name}\`.meter_readings`,
      );
    }
    const row = await readJob(testDb, job.batchId);
    expect(row.status).toBe('failed');
    expect(row).toMatchObject({
      error_code: 'RETRIES_EXHAUSTED',
      error_message: 'Gave up after 0 retries: A database error stopped the import',
      last_error: 'A database error stopped the import',
    });
  });

  it('a cancel during the run sticks: the batch in flight is rolled back and the job stays cancelled', async () => {
    // 2,880 readings in batches of 100: plenty left to do when the cancel lands around the 4th batch.
    const { csv, readings } = intervalCsv(3, 20);
    const second = await queueJob(testDb, { type: 'hh', csv });
    let calls = 0;
    let cancelling: Promise<unknown> | undefined;
    const cancelled = await withConnection(testDb.config().db, (db) =>
      processImports(db, {
        leaseOwner: randomUUID(),
        batchSize: 100,
        stopMarginMs: 1000,
        writeMode,
        remainingMs: () => {
          calls++;
          if (calls === 10) {
            // The API's own cancel (one conditional UPDATE), from another session, mid-run.
            cancelling = withConnection(testDb.config().db, (db) => cancelJob(db, second.batchId));
          }
          return 60_000;
        },
      }),
    );
    await cancelling;
    expect(cancelled[0]?.outcome).toBe('cancelled');
    const row = await readJob(testDb, second.batchId);
    expect(row.status).toBe('cancelled');
    expect(row.checkpoint_row).toBeLessThan(readings);
    expect(row.checkpoint_row).toBeGreaterThan(0);
    expect((await readingLines(testDb)).length).toBe(row.checkpoint_row);
  });

  it('resumes exactly after its connection is killed mid-batch', async () => {
    const { csv, readings } = intervalCsv(10, 10); // 4,800 readings
    const second = await queueJob(testDb, { type: 'hh', csv });
    let calls = 0;
    const failure = await withConnection(testDb.config().db, (db) =>
      processImports(db, {
        leaseOwner: randomUUID(),
        batchSize: 400,
        stopMarginMs: 1000,
        writeMode,
        remainingMs: () => {
          calls++;
          if (calls === 12 && db.threadId !== null) {
            // Killed from another session while the processor goes on with its next batch.
            void testDb.admin.query('KILL ?', [db.threadId]);
          }
          return 60_000;
        },
      }),
    ).catch((caught: unknown) => caught);
    expect(failure).toMatchObject({
      code: expect.stringMatching(/PROTOCOL_CONNECTION_LOST|ER_CONNECTION_KILLED/),
    });
    const stranded = await readJob(testDb, second.batchId);
    expect(stranded.status).toBe('processing');
    expect(stranded.checkpoint_row).toBeGreaterThan(0);
    expect(stranded.checkpoint_row).toBeLessThan(readings);
    expect(await readingLines(testDb)).toHaveLength(stranded.checkpoint_row);
    // Its lease outlives the dead run; once it expires the next run takes the job over.
    await testDb.admin.query(
      `UPDATE \`${testDb.name}\`.import_jobs SET lease_expires_at = NOW(3) - INTERVAL 1 SECOND WHERE batch_id = ?`,
      [second.batchId],
    );
    const [resumed] = await run({ batchSize: 400 });
    expect(resumed?.outcome).toBe('completed');
    expect(await readingLines(testDb)).toHaveLength(readings);
    expect(await readJob(testDb, second.batchId)).toMatchObject({
      status: 'completed',
      retry_count: 1,
      processed_rows: readings,
      imported_rows: readings,
    });
  });
});

describe('purgeFinishedJobs', () => {
  it('deletes finished and expired jobs older than the retention, with their files, and keeps the rest', async () => {
    const old = await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n' });
    const recent = await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n' });
    const waiting = await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n' });
    const expired = await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n' });
    await testDb.admin.query(
      `UPDATE \`${testDb.name}\`.import_jobs SET status = 'completed', completed_at = NOW(3) - INTERVAL 31 DAY WHERE batch_id = ?`,
      [old.batchId],
    );
    await testDb.admin.query(
      `UPDATE \`${testDb.name}\`.import_jobs SET status = 'failed', completed_at = NOW(3) - INTERVAL 29 DAY WHERE batch_id = ?`,
      [recent.batchId],
    );
    // A job whose upload never arrived is finished too once it expired.
    await testDb.admin.query(
      `UPDATE \`${testDb.name}\`.import_jobs SET status = 'expired', completed_at = NOW(3) - INTERVAL 31 DAY WHERE batch_id = ?`,
      [expired.batchId],
    );
    const deleted = await withConnection(testDb.config().db, (db) => purgeFinishedJobs(db, 30, 100));
    expect(deleted).toBe(2);
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT batch_id FROM \`${testDb.name}\`.import_jobs ORDER BY id`,
    );
    expect(rows.map((r) => r.batch_id)).toEqual([recent.batchId, waiting.batchId]);
    expect((await tableCounts(testDb)).import_file_chunks).toBe(2);
  });
});

describe('loadReadings', () => {
  const reading = {
    meterCode: 'E1',
    settlementDate: '2024-01-01',
    period: 1,
    startUtcMs: Date.UTC(2024, 0, 1),
    kwh: '1.5',
    type: 'actual' as const,
    unit: 'kWh' as const,
  };

  async function loadInTransaction(valueKwh: string): Promise<unknown> {
    return withConnection(testDb.config().db, async (db) => {
      await db.query("INSERT INTO meters (id, mpan) VALUES (1, 'E1')");
      await db.beginTransaction();
      try {
        await loadReadings(
          db,
          [{ ...reading, kwh: valueKwh }],
          new Map([['E1', 1]]),
          randomUUID(),
          Date.now() + 60_000,
        );
        await db.commit();
        return 'stored';
      } catch (error) {
        await db.rollback();
        return error;
      }
    });
  }

  it.each([
    ['a backslash LOAD DATA would unescape', '1\\t5'],
    ['a stray tab that would shift the columns', '1.5\t9'],
    ['a line break that would start a row', '1.5\n2'],
    ['a non-ASCII character', '1.5\u00a0'],
  ])('refuses a field holding %s before sending anything', async (_case, valueKwh) => {
    const error = await loadInTransaction(valueKwh);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('A reading field holds a character LOAD DATA would misread');
    expect(await readingLines(testDb)).toEqual([]);
  });

  it('refuses a batch the server warns about (a non-number), storing nothing', async () => {
    const error = await loadInTransaction('not-a-number');
    expect((error as Error).message).toMatch(/Incorrect decimal value/);
    expect(await readingLines(testDb)).toEqual([]);
  });

  it('stores a clean batch', async () => {
    expect(await loadInTransaction('2.25')).toBe('stored');
    expect(await readingLines(testDb)).toEqual(['E1 hh 2024-01-01 00:00:00 1 2.2500 actual']);
  });
});

describe('upsertReadings (the INSERT path)', () => {
  const reading: Reading = {
    meterCode: 'E1',
    settlementDate: '2024-01-01',
    period: 1,
    startUtcMs: Date.UTC(2024, 0, 1),
    kwh: '1.5',
    type: 'actual',
    unit: 'kWh',
  };

  /** One meter's readings half-hour by half-hour from 2024-01-01 00:00 UTC (dates and periods as if GMT). */
  function halfHours(count: number, kwh: (index: number) => string): Reading[] {
    return Array.from({ length: count }, (_, index) => ({
      ...reading,
      settlementDate: new Date(Date.UTC(2024, 0, 1 + Math.floor(index / 48))).toISOString().slice(0, 10),
      period: (index % 48) + 1,
      startUtcMs: Date.UTC(2024, 0, 1) + index * 1_800_000,
      kwh: kwh(index),
      type: index % 2 === 0 ? 'actual' : 'estimated',
    }));
  }

  async function upsertInTransaction(
    readings: readonly Reading[],
    batchId: string = randomUUID(),
  ): Promise<unknown> {
    return withConnection(testDb.config().db, async (db) => {
      await db.query("INSERT IGNORE INTO meters (id, mpan) VALUES (1, 'E1')");
      await db.beginTransaction();
      try {
        await upsertReadings(db, readings, new Map([['E1', 1]]), batchId, Date.now() + 60_000);
        await db.commit();
        return 'stored';
      } catch (error) {
        await db.rollback();
        return error;
      }
    });
  }

  it('keeps a batch id holding a quote a plain value', async () => {
    const batchId = "x'); DROP TABLE meters; --";
    expect(await upsertInTransaction([reading], batchId)).toBe('stored');
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT import_batch_id FROM \`${testDb.name}\`.meter_readings`,
    );
    expect(rows).toEqual([{ import_batch_id: batchId }]);
  });

  it("stores the instants and dates it sends as numbers exactly: a day's last half-hour, a daily reading", async () => {
    const readings: Reading[] = [
      { ...reading, settlementDate: '2024-06-30', period: 48, startUtcMs: Date.UTC(2024, 5, 30, 22, 30) },
      {
        ...reading,
        settlementDate: '2024-07-01',
        period: null,
        startUtcMs: Date.UTC(2024, 5, 30, 23),
        kwh: '0.0001',
      },
      {
        ...reading,
        settlementDate: '2024-12-31',
        period: 1,
        startUtcMs: Date.UTC(2024, 11, 31),
        kwh: '99999999.9999',
      },
    ];
    expect(await upsertInTransaction(readings)).toBe('stored');
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT reading_interval AS i, DATE_FORMAT(start_utc, '%Y-%m-%d %H:%i:%s') AS s,
              DATE_FORMAT(settlement_date, '%Y-%m-%d') AS d, period_number AS p, reading_value AS v
         FROM \`${testDb.name}\`.meter_readings ORDER BY start_utc`,
    );
    expect(rows).toEqual([
      { i: 'hh', s: '2024-06-30 22:30:00', d: '2024-06-30', p: 48, v: '1.5000' },
      { i: 'daily', s: '2024-06-30 23:00:00', d: '2024-07-01', p: null, v: '0.0001' },
      { i: 'hh', s: '2024-12-31 00:00:00', d: '2024-12-31', p: 1, v: '99999999.9999' },
    ]);
  });

  it('rolls the whole batch back when the server refuses a reading late in it', async () => {
    // 2024-02-31 goes as the number 20240231, which the server refuses as a date like the text.
    const readings = halfHours(12_000, (index) => `${index}.5`);
    readings[10_600] = { ...(readings[10_600] as Reading), settlementDate: '2024-02-31' };
    const error = await upsertInTransaction(readings);
    expect((error as Error).message).toMatch(/Incorrect date value/);
    expect(await readingLines(testDb)).toEqual([]);
  });

  it('stores every reading of a 12,001-reading batch exactly, and a re-import replaces them', async () => {
    const first = randomUUID();
    expect(
      await upsertInTransaction(
        halfHours(12_001, (index) => `${index}.0001`),
        first,
      ),
    ).toBe('stored');
    const sums = `SELECT COUNT(*) AS n, SUM(reading_value) AS total, SUM(import_batch_id = ?) AS ours,
                         SUM(reading_type = 'estimated') AS estimated, MAX(start_utc) AS last
                    FROM \`${testDb.name}\`.meter_readings`;
    const [stored] = await testDb.admin.query<RowDataPacket[]>({ sql: sums, dateStrings: true }, [first]);
    // Σ index for 0..12,000 is 72,006,000, plus 12,001 × 0.0001; the last start is 12,000 half-hours on.
    expect(stored[0]).toEqual({
      n: 12_001,
      total: '72006001.2001',
      ours: '12001',
      estimated: '6000',
      last: '2024-09-07 00:00:00',
    });
    const again = randomUUID();
    expect(
      await upsertInTransaction(
        halfHours(12_001, () => '7.25'),
        again,
      ),
    ).toBe('stored');
    const [replaced] = await testDb.admin.query<RowDataPacket[]>({ sql: sums, dateStrings: true }, [again]);
    expect(replaced[0]).toMatchObject({ n: 12_001, total: '87007.2500', ours: '12001', estimated: '6000' });
  });
});
