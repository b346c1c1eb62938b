// Nothing internal reaches a caller: a database error during processing (a revoked grant, a missing
// table) is stored as a code and a safe message, the API's job views carry no host, user, schema or
// SQL text, and the driver's detail goes to the processor's log.

import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { logger } from '../../lib/logger.js';
import { AUTH, bodyOf, type Call, caller, migrate } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { queueJob, runProcessor } from '../helpers/import-jobs.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

let testDb: TestDatabase;
let call: Call;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 4 });
  await migrate(testDb);
  call = caller(testDb);
});

afterAll(async () => {
  await testDb.drop();
});

beforeEach(async () => {
  await testDb.admin.query('DELETE FROM import_jobs');
  vi.restoreAllMocks();
});

proveSessionAccounting(() => testDb);

function runInsertProcessor() {
  return runProcessor(testDb, { batchSize: 1000, writeMode: 'insert' });
}

/** The job as GET /api/import/jobs/{id} and the list show it, as the raw response bodies. */
async function jobResponses(batchId: string): Promise<{ job: Record<string, unknown>; texts: string[] }> {
  const one = await call(httpEvent('GET', `/api/import/jobs/${batchId}`, { headers: AUTH }));
  const list = await call(httpEvent('GET', '/api/import/jobs', { headers: AUTH }));
  expect(one.statusCode).toBe(200);
  expect(list.statusCode).toBe(200);
  return { job: bodyOf(one), texts: [String(one.body), String(list.body)] };
}

/** Anything that would tell a caller about the server: its address, the login, the schema, a statement. */
function internalsIn(text: string): string[] {
  const patterns: RegExp[] = [
    new RegExp(testDb.user, 'i'),
    new RegExp(testDb.name, 'i'),
    /127\.0\.0\.1|localhost|@'/i,
    /\b(INSERT|SELECT|UPDATE|DELETE|REPLACE|LOAD DATA)\b/,
    /\b(meter_readings|meters|sites|import_jobs|mr_hidden)\b/,
    /denied|doesn't exist|ER_[A-Z_]+|errno/i,
  ];
  return patterns.filter((pattern) => pattern.test(text)).map(String);
}

const FAULTS = {
  'a revoked grant': {
    // The app user may read everything and update its jobs, but no longer write sites or meters.
    async break() {
      await testDb.admin.query(`REVOKE ALL PRIVILEGES ON \`${testDb.name}\`.* FROM ?@'%'`, [testDb.user]);
      await testDb.admin.query(`GRANT SELECT ON \`${testDb.name}\`.* TO ?@'%'`, [testDb.user]);
      await testDb.admin.query(`GRANT UPDATE ON \`${testDb.name}\`.import_jobs TO ?@'%'`, [testDb.user]);
    },
    async heal() {
      await testDb.admin.query(`REVOKE ALL PRIVILEGES ON \`${testDb.name}\`.import_jobs FROM ?@'%'`, [
        testDb.user,
      ]);
      await testDb.admin.query(`GRANT ALL PRIVILEGES ON \`${testDb.name}\`.* TO ?@'%'`, [testDb.user]);
    },
    driverText: /command denied to user/,
  },
  'a missing table': {
    async break() {
      await testDb.admin.query('RENAME TABLE meter_readings TO mr_hidden');
    },
    async heal() {
      await testDb.admin.query('RENAME TABLE mr_hidden TO meter_readings');
    },
    driverText: /doesn't exist/,
  },
} as const;

describe.each(Object.keys(FAULTS) as (keyof typeof FAULTS)[])('a database error from %s', (fault) => {
  it('reaches callers only as a code and a safe message, and operators through the log', async () => {
    const { break: breakIt, heal, driverText } = FAULTS[fault];
    const job = await queueJob(testDb, {
      type: 'daily',
      csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n',
      maxRetries: 1,
    });
    const logged = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    await breakIt();
    try {
      expect((await runInsertProcessor())[0]).toMatchObject({
        outcome: 'requeued',
        errorCode: 'DATABASE_ERROR',
      });
      const requeued = await jobResponses(job.batchId);
      expect(requeued.job).toMatchObject({
        status: 'queued',
        error_code: 'DATABASE_ERROR',
        last_error: 'A database error stopped the import',
      });
      for (const text of requeued.texts) expect(internalsIn(text)).toEqual([]);

      await testDb.admin.query('UPDATE import_jobs SET retry_at = NOW(3) - INTERVAL 1 SECOND');
      expect((await runInsertProcessor())[0]).toMatchObject({
        outcome: 'failed',
        errorCode: 'RETRIES_EXHAUSTED',
      });
      const failed = await jobResponses(job.batchId);
      expect(failed.job).toMatchObject({
        status: 'failed',
        error_code: 'RETRIES_EXHAUSTED',
        error_message: 'Gave up after 1 retries: A database error stopped the import',
        last_error: 'A database error stopped the import',
      });
      for (const text of failed.texts) expect(internalsIn(text)).toEqual([]);
    } finally {
      await heal();
    }
    // The detail the caller does not see is in the log, for this job, without the statement's text.
    expect(logged).toHaveBeenCalledTimes(2);
    for (const [message, fields] of logged.mock.calls) {
      expect(message).toBe('import job stopped by an error');
      expect(fields).toMatchObject({ batchId: job.batchId, errorCode: 'DATABASE_ERROR' });
      const error = (fields as { error?: unknown }).error;
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(driverText);
      expect(error).toMatchObject({ errno: expect.any(Number) });
      expect(JSON.stringify(error)).not.toMatch(/\bsql\b/);
    }
  });
});
