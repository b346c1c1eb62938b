// The API's database session is killed while a request waits on it (an operator's KILL, a failover, a
// monitor): the request must end with a generic error, leak no session and half-write nothing.
// Deterministic: a root session holds a lock the API's statement needs (a table lock for a read, row
// and gap locks for an insert), so the statement waits in the processlist until its session is killed. (The processor's session killed mid-batch is
// processor.test.ts's "resumes exactly after its connection is killed mid-batch".)

import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HttpResponse } from '../../lib/http.js';
import {
  AUTH,
  bodyOf,
  type Call,
  caller,
  csvUpload,
  migrate,
  seedJob,
  storedCounts,
} from '../helpers/api.js';
import { ADMIN_CONNECTION, createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';

const DAILY = 'MPAN,Date,Reading\nE06BG12862,09/11/2024,123.45\nE06BG12862,10/11/2024,120\n';
// A 500 here must be the generic one: nothing about the statement, the table, or the driver's error.
const LEAKS = /select|insert|import_|chunk|killed|lost|connection|ER_|errno|sql/i;

let testDb: TestDatabase;
let locker: Connection;
let call: Call;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 3 });
  await migrate(testDb);
  locker = await createConnection({ ...ADMIN_CONNECTION, database: testDb.name });
  call = caller(testDb);
});

afterAll(async () => {
  await locker?.end();
  await testDb?.drop();
});

beforeEach(async () => {
  expect(await testDb.sessionCount()).toBe(0);
});

afterEach(async () => {
  await locker.query('UNLOCK TABLES');
  await locker.query('ROLLBACK');
  expect(await testDb.waitForSessions(0)).toBe(0);
});

/**
 * Kills the app session running a statement that starts with `prefix`. The test's lock guarantees that
 * statement cannot finish, so seeing it in the processlist means it waits there.
 */
async function killSessionWaitingOn(prefix: string): Promise<void> {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE CONCAT(?, '%')",
      [testDb.user, prefix],
    );
    const id = rows[0]?.ID;
    if (id !== undefined) {
      await testDb.admin.query('KILL CONNECTION ?', [Number(id)]);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no app session ran "${prefix}…"`);
}

function expectGenericServerError(response: HttpResponse, requestId: string): void {
  expect(response.statusCode).toBe(500);
  expect(bodyOf(response)).toEqual({ error: 'Internal server error', request_id: requestId });
  expect(String(response.body).replace(requestId, '')).not.toMatch(LEAKS);
}

async function jobsWithoutFile(): Promise<number> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM import_jobs AS job
      WHERE NOT EXISTS (SELECT 1 FROM import_file_chunks AS chunk WHERE chunk.job_id = job.id)`,
  );
  return Number(rows[0]?.n);
}

describe("the API's session is killed mid-request", () => {
  it('answers GET /api/import/jobs with a generic 500 carrying the request id, and ends its session', async () => {
    await seedJob(testDb);
    await locker.query('LOCK TABLES import_jobs WRITE');
    const event = httpEvent('GET', '/api/import/jobs', { headers: AUTH });

    const pending = call(event);
    await killSessionWaitingOn('SELECT');
    const response = await pending;

    expectGenericServerError(response, event.requestContext.requestId);
  });

  it('answers an upload killed between its job row and its file with a generic 500, and stores neither', async () => {
    await seedJob(testDb);
    const before = await storedCounts(testDb);
    // Next-key locks on every chunk and the gap after the last: any new chunk's INSERT waits, while the
    // job row's INSERT (another table; a table lock here would block it too, through the foreign key) goes on.
    await locker.query('BEGIN');
    await locker.query('SELECT job_id FROM import_file_chunks FOR UPDATE');
    const event = csvUpload(DAILY, { type: 'daily', filename: 'killed.csv' });

    const pending = call(event);
    // The job row is already inserted (uncommitted) when the file's INSERT waits and the session dies.
    await killSessionWaitingOn('INSERT INTO import_file_chunks');
    const response = await pending;
    await locker.query('ROLLBACK');

    expectGenericServerError(response, event.requestContext.requestId);
    expect(await storedCounts(testDb)).toEqual(before);
    expect(await jobsWithoutFile()).toBe(0);
  });

  it('answers the retried upload normally once the database is back: nothing blocks it', async () => {
    const before = await storedCounts(testDb);
    const response = await call(csvUpload(DAILY, { type: 'daily', filename: 'killed.csv' }));
    expect(response.statusCode).toBe(202);
    expect(await storedCounts(testDb)).toEqual({ jobs: before.jobs + 1, chunks: before.chunks + 1 });
    expect(await jobsWithoutFile()).toBe(0);
  });
});
