// Queues import jobs straight into a test database (the API's upload path has its own tests) and
// reads back what an import wrote.

import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { withConnection } from '../../lib/db.js';
import { storeFileChunks } from '../../lib/imports/file-store.js';
import type { ImportType, Priority } from '../../lib/imports/job.js';
import { type JobOutcome, type ProcessorOptions, processImports } from '../../lib/imports/processor.js';
import type { TestDatabase } from './database.js';

export { migrate } from './schema.js';

/**
 * One processor run on a connection of its own, as the scheduled handler makes it, with a minute left
 * and a one-second stop margin unless `options` say otherwise.
 */
export function runProcessor(
  testDb: TestDatabase,
  options: Partial<ProcessorOptions> & Pick<ProcessorOptions, 'batchSize' | 'writeMode'>,
): Promise<JobOutcome[]> {
  return withConnection(testDb.config().db, (db) =>
    processImports(db, {
      leaseOwner: randomUUID(),
      remainingMs: () => 60_000,
      stopMarginMs: 1000,
      ...options,
    }),
  );
}

export type QueuedJob = { id: number; batchId: string };

export async function queueJob(
  testDb: TestDatabase,
  job: {
    type: ImportType;
    csv: string | Buffer;
    dryRun?: boolean;
    priority?: Priority;
    maxRetries?: number;
    metadata?: Record<string, unknown>;
    queuedAt?: string;
  },
): Promise<QueuedJob> {
  const batchId = randomUUID();
  return withConnection(testDb.config().db, async (db) => {
    const [result] = await db.query<ResultSetHeader>(
      `INSERT INTO import_jobs (batch_id, filename, import_type, priority, dry_run, max_retries, metadata, queued_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, COALESCE(?, NOW(3)))`,
      [
        batchId,
        `${job.type}.csv`,
        job.type,
        job.priority ?? 'normal',
        job.dryRun ? 1 : 0,
        job.maxRetries ?? 3,
        job.metadata === undefined ? null : JSON.stringify(job.metadata),
        job.queuedAt ?? null,
      ],
    );
    await storeFileChunks(db, result.insertId, gzipSync(job.csv));
    return { id: result.insertId, batchId };
  });
}

export type JobRow = {
  status: string;
  total_rows: number | null;
  processed_rows: number;
  imported_rows: number;
  failed_rows: number;
  retry_count: number;
  retry_at: Date | null;
  checkpoint_row: number;
  checkpoint_byte_offset: number;
  error_message: string | null;
  error_code: string | null;
  last_error: string | null;
  lease_owner: string | null;
  summary: Record<string, unknown> | null;
};

export async function readJob(testDb: TestDatabase, batchId: string): Promise<JobRow> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>(
    `SELECT status, total_rows, processed_rows, imported_rows, failed_rows, retry_count, retry_at, checkpoint_row,
            checkpoint_byte_offset, error_message, error_code, last_error, lease_owner, summary
       FROM \`${testDb.name}\`.import_jobs WHERE batch_id = ?`,
    [batchId],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`job ${batchId} not found`);
  return {
    ...(row as JobRow),
    summary: typeof row.summary === 'string' ? JSON.parse(row.summary) : null,
  };
}

const londonTime = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/**
 * Every reading as `MPAN interval settlement-date local-start period value type`, sorted by UTC start,
 * for exact comparisons. The local start comes from the platform's tz database (Intl), not lib/time.
 */
export async function readingLines(testDb: TestDatabase): Promise<string[]> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>(
    `SELECT m.mpan, r.reading_interval, DATE_FORMAT(r.settlement_date, '%Y-%m-%d') AS d,
            DATE_FORMAT(r.start_utc, '%Y-%m-%dT%H:%i:%sZ') AS s,
            r.period_number AS p, r.reading_value AS v, r.reading_type AS k
       FROM \`${testDb.name}\`.meter_readings r JOIN \`${testDb.name}\`.meters m ON m.id = r.meter_id
      ORDER BY m.mpan, r.reading_interval, r.start_utc`,
  );
  return rows.map(
    (row) =>
      `${row.mpan} ${row.reading_interval} ${row.d} ${londonTime.format(Date.parse(String(row.s)))} ${row.p ?? '-'} ${row.v} ${row.k}`,
  );
}

export async function tableCounts(testDb: TestDatabase): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['meters', 'sites', 'meter_readings', 'import_jobs', 'import_file_chunks']) {
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM \`${testDb.name}\`.${table}`,
    );
    counts[table] = Number(rows[0]?.n);
  }
  return counts;
}

/** Long-format half-hourly CSV: `meters` meters × `days` days × 48 periods, values derived from the position. */
export function intervalCsv(meters: number, days: number, prefix = 'E'): { csv: string; readings: number } {
  const lines = ['MPAN,ReadDateTime,ReadValue,Unit,ReadingType'];
  for (let m = 0; m < meters; m++) {
    for (let d = 0; d < days; d++) {
      const date = new Date(Date.UTC(2024, 0, 1 + d)).toISOString().slice(0, 10);
      for (let p = 0; p < 48; p++) {
        const time = `${String(Math.floor(p / 2)).padStart(2, '0')}:${p % 2 === 0 ? '00' : '30'}:00`;
        lines.push(
          `${prefix}${String(m).padStart(9, '0')},${date} ${time},${(m + d + p / 100).toFixed(2)},kWh,A`,
        );
      }
    }
  }
  return { csv: `${lines.join('\n')}\n`, readings: meters * days * 48 };
}
