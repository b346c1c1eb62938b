import { randomUUID } from 'node:crypto';
import type { ResultSetHeader } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, bodyOf, type Call, caller, jobRow, migrate, seedJob, utc } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
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

beforeEach(async () => {
  await testDb.admin.query('DELETE FROM import_jobs');
});

// Every handler test proves the connection accounting: 0 app-user sessions before and after it.
proveSessionAccounting(() => testDb);

function get(path: string, query: Record<string, string> = {}) {
  return call(httpEvent('GET', path, { headers: AUTH, query }));
}

function post(path: string) {
  return call(httpEvent('POST', path, { headers: AUTH }));
}

function jobsOf(body: Record<string, unknown>): Array<Record<string, unknown>> {
  const jobs = body.jobs;
  if (!Array.isArray(jobs)) throw new Error('no jobs array');
  return jobs;
}

describe('GET /api/import/jobs', () => {
  it('pages through 25 jobs newest first with a cursor, ties broken by insertion order', async () => {
    // 25 jobs: minute i, except that jobs 10..14 share one timestamp (a tie across a page boundary).
    const expectedOrder: string[] = [];
    for (let i = 0; i < 25; i++) {
      const minute = i >= 10 && i <= 14 ? 10 : i;
      const batchId = await seedJob(testDb, {
        filename: `job-${i}.csv`,
        queued_at: `2024-11-09 10:${String(minute).padStart(2, '0')}:00.000`,
      });
      expectedOrder.unshift(batchId);
    }

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const response = await get('/api/import/jobs', { limit: '10', ...(cursor === null ? {} : { cursor }) });
      expect(response.statusCode).toBe(200);
      const body = bodyOf(response);
      const jobs = jobsOf(body);
      expect(body.count).toBe(jobs.length);
      pageSizes.push(jobs.length);
      seen.push(...jobs.map((job) => String(job.batch_id)));
      cursor = typeof body.next_cursor === 'string' ? body.next_cursor : null;
    } while (cursor !== null);

    expect(pageSizes).toEqual([10, 10, 5]);
    expect(seen).toEqual(expectedOrder);
  });

  it('returns 20 jobs by default and filters by status', async () => {
    for (let i = 0; i < 22; i++) await seedJob(testDb, { status: i < 3 ? 'failed' : 'completed' });
    const all = bodyOf(await get('/api/import/jobs'));
    expect(all.count).toBe(20);
    expect(typeof all.next_cursor).toBe('string');
    const failed = bodyOf(await get('/api/import/jobs', { status: 'failed' }));
    expect(failed.count).toBe(3);
    expect(failed.next_cursor).toBeNull();
    expect(jobsOf(failed).every((job) => job.status === 'failed')).toBe(true);
  });

  it('shows only the allowed fields, never ids, leases, keys or users', async () => {
    await seedJob(testDb, {
      user_id: 7,
      lease_owner: 'worker-secret-id',
      idempotency_key: 'key-digest',
      metadata: JSON.stringify({ default_site_id: 3, request_sha256: 'abc', uploaded_by: 'ops@example.com' }),
    });
    const body = bodyOf(await get('/api/import/jobs'));
    const [job] = jobsOf(body);
    expect(Object.keys(job ?? {}).sort()).toEqual(
      [
        'batch_id',
        'filename',
        'import_type',
        'status',
        'priority',
        'dry_run',
        'total_rows',
        'processed_rows',
        'imported_rows',
        'failed_rows',
        'progress_percent',
        'retry_count',
        'max_retries',
        'retry_at',
        'summary',
        'error_message',
        'error_code',
        'last_error',
        'notes',
        'tags',
        'metadata',
        'queued_at',
        'started_at',
        'completed_at',
      ].sort(),
    );
    expect(job?.metadata).toEqual({ default_site_id: 3 });
    for (const secret of ['worker-secret-id', 'key-digest', 'ops@example.com', 'request_sha256']) {
      expect(JSON.stringify(body)).not.toContain(secret);
    }
  });

  it.each([
    [
      { status: 'running' },
      'status must be one of: awaiting_upload, queued, processing, completed, failed, cancelled, expired',
    ],
    [{ limit: '0' }, 'limit must be a whole number from 1 to 100'],
    [{ limit: '101' }, 'limit must be a whole number from 1 to 100'],
    [{ limit: 'ten' }, 'limit must be a whole number from 1 to 100'],
    [{ cursor: 'not a cursor!' }, 'Invalid cursor: pass next_cursor from the previous page unchanged'],
    [{ cursor: Buffer.from('{"q":"yesterday","b":"x"}').toString('base64url') }, /^Invalid cursor/],
    [{ cursor: Buffer.from('[1,2]').toString('base64url') }, /^Invalid cursor/],
  ])('answers 400 for %j', async (query, message) => {
    const response = await get('/api/import/jobs', query);
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error).toEqual(
      typeof message === 'string' ? message : expect.stringMatching(message),
    );
  });
});

describe('GET /api/import/jobs/{batchId}', () => {
  it('returns the job with progress_percent, the decoded summary and ISO 8601 UTC times', async () => {
    const summary = {
      records_processed: 50,
      records_imported: 48,
      records_failed: 2,
      errors: ['Row 3: Missing MPAN', 'Row 9: Invalid date value'],
      successful: true,
      batch_id: 'b',
      dry_run: false,
      meta: { format: 'daily', column_mapping: { meter: 'MPAN' }, unit_counts: { kWh: 48 } },
    };
    const batchId = await seedJob(testDb, {
      status: 'processing',
      total_rows: 200,
      processed_rows: 50,
      imported_rows: 48,
      failed_rows: 2,
      summary: JSON.stringify(summary),
      tags: JSON.stringify(['november', 3]),
      queued_at: '2024-11-09 10:00:00.125',
      started_at: '2024-11-09 10:00:05.000',
    });
    const response = await get(`/api/import/jobs/${batchId}`);
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({
      batch_id: batchId,
      status: 'processing',
      total_rows: 200,
      processed_rows: 50,
      progress_percent: 25,
      summary,
      tags: ['november'],
      queued_at: '2024-11-09T10:00:00.125Z',
      started_at: '2024-11-09T10:00:05.000Z',
      completed_at: null,
    });
  });

  it('finds the job whatever the case of the batch id', async () => {
    const batchId = await seedJob(testDb);
    const response = await get(`/api/import/jobs/${batchId.toUpperCase()}`);
    expect(bodyOf(response).batch_id).toBe(batchId);
  });

  it('answers 404 for an unknown batch id and for one that is not a UUID', async () => {
    for (const id of [randomUUID(), 'abc', '1%20OR%201=1', '..']) {
      const response = await get(`/api/import/jobs/${id}`);
      expect(response.statusCode).toBe(404);
      expect(bodyOf(response)).toEqual({ error: 'Import job not found' });
    }
  });
});

describe('POST /api/import/jobs/{batchId}/cancel', () => {
  it('cancels a queued job', async () => {
    const batchId = await seedJob(testDb);
    const response = await post(`/api/import/jobs/${batchId}/cancel`);
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({ batch_id: batchId, status: 'cancelled' });
    expect(bodyOf(response).completed_at).toEqual(expect.stringMatching(/Z$/));
    expect(await jobRow(testDb, batchId)).toMatchObject({ status: 'cancelled' });
  });

  it('cancels a processing job, clears its lease, and the processor cannot overwrite it', async () => {
    const batchId = await seedJob(testDb, {
      status: 'processing',
      lease_owner: 'run-1',
      lease_expires_at: utc('+ INTERVAL 5 MINUTE'),
      started_at: utc(),
      processed_rows: 10,
      total_rows: 100,
    });
    const response = await post(`/api/import/jobs/${batchId}/cancel`);
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({ status: 'cancelled', processed_rows: 10 });
    expect(await jobRow(testDb, batchId)).toMatchObject({
      status: 'cancelled',
      lease_owner: null,
      lease_expires_at: null,
    });
    // The processor's conditional checkpoint now matches nothing, so it stops.
    const [checkpoint] = await testDb.admin.query<ResultSetHeader>(
      `UPDATE import_jobs SET processed_rows = 20, status = 'completed'
        WHERE batch_id = ? AND status = 'processing' AND lease_owner = ?`,
      [batchId, 'run-1'],
    );
    expect(checkpoint.affectedRows).toBe(0);
    expect(await jobRow(testDb, batchId)).toMatchObject({ status: 'cancelled', processed_rows: 10 });
  });

  it.each(['completed', 'failed', 'cancelled'])(
    'answers 409 naming the status for a %s job',
    async (status) => {
      const batchId = await seedJob(testDb, { status, completed_at: '2024-11-09 11:00:00.000' });
      const response = await post(`/api/import/jobs/${batchId}/cancel`);
      expect(response.statusCode).toBe(409);
      expect(bodyOf(response)).toEqual({
        error: `Cannot cancel a job that is ${status}`,
        details: { status },
      });
      expect(await jobRow(testDb, batchId)).toMatchObject({ status });
    },
  );

  it('answers 404 for an unknown job', async () => {
    const response = await post(`/api/import/jobs/${randomUUID()}/cancel`);
    expect(response.statusCode).toBe(404);
  });
});

describe('POST /api/import/jobs/{batchId}/retry', () => {
  it('re-queues a failed job with its counters, checkpoint and results reset, keeping last_error and error_code', async () => {
    const batchId = await seedJob(testDb, {
      status: 'failed',
      total_rows: 100,
      processed_rows: 60,
      imported_rows: 50,
      failed_rows: 10,
      retry_count: 3,
      retry_at: utc('- INTERVAL 1 MINUTE'),
      checkpoint_row: 60,
      checkpoint_state: '{"errors":["Row 3: Missing MPAN"]}',
      summary: '{"records_processed":60}',
      error_message: 'Gave up after 3 retries: A database error stopped the import',
      error_code: 'RETRIES_EXHAUSTED',
      last_error: 'A database error stopped the import',
      lease_owner: 'run-9',
      lease_expires_at: utc('- INTERVAL 1 MINUTE'),
      started_at: utc('- INTERVAL 10 MINUTE'),
      completed_at: utc('- INTERVAL 5 MINUTE'),
    });
    const response = await post(`/api/import/jobs/${batchId}/retry`);
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({
      status: 'queued',
      total_rows: 100,
      processed_rows: 0,
      imported_rows: 0,
      failed_rows: 0,
      progress_percent: 0,
      retry_count: 0,
      retry_at: null,
      summary: null,
      error_message: null,
      error_code: 'RETRIES_EXHAUSTED',
      last_error: 'A database error stopped the import',
      started_at: null,
      completed_at: null,
    });
    expect(await jobRow(testDb, batchId)).toMatchObject({
      checkpoint_row: 0,
      checkpoint_state: null,
      lease_owner: null,
      lease_expires_at: null,
    });
  });

  it('re-queues a cancelled job', async () => {
    const batchId = await seedJob(testDb, { status: 'cancelled', completed_at: utc() });
    const response = await post(`/api/import/jobs/${batchId}/retry`);
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response).status).toBe('queued');
  });

  it.each(['queued', 'processing', 'completed'])(
    'answers 409 for a %s job and leaves it alone',
    async (status) => {
      const batchId = await seedJob(testDb, { status, processed_rows: 5 });
      const response = await post(`/api/import/jobs/${batchId}/retry`);
      expect(response.statusCode).toBe(409);
      expect(bodyOf(response)).toEqual({
        error: `Cannot retry a job that is ${status}`,
        details: { status },
      });
      expect(await jobRow(testDb, batchId)).toMatchObject({ status, processed_rows: 5 });
    },
  );

  it('answers 409 when the stored file has been purged', async () => {
    const batchId = await seedJob(testDb, { status: 'failed' }, { withFile: false });
    const response = await post(`/api/import/jobs/${batchId}/retry`);
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response)).toEqual({
      error: 'The uploaded file is no longer stored; upload it again',
      details: { status: 'failed' },
    });
    expect(await jobRow(testDb, batchId)).toMatchObject({ status: 'failed' });
  });

  it('answers 404 for an unknown job and 405 for GET', async () => {
    expect((await post(`/api/import/jobs/${randomUUID()}/retry`)).statusCode).toBe(404);
    const wrongMethod = await get(`/api/import/jobs/${randomUUID()}/retry`);
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers?.allow).toBe('POST');
  });
});
