import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessImportsHandler } from '../../functions/process-imports.js';
import { DatabaseError } from '../../lib/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { migrate, queueJob, readingLines, readJob } from '../helpers/import-jobs.js';
import { fakeContext } from '../helpers/lambda.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 3 });
  await migrate(testDb);
});

afterAll(async () => {
  await testDb.drop();
});

// Every handler test proves the connection accounting: 0 app-user sessions before and after it.
proveSessionAccounting(() => testDb);

describe('processImports handler', () => {
  it('imports the queued jobs with one connection and reports each outcome', async () => {
    const job = await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-01-01,3.5\n' });
    const handler = createProcessImportsHandler(testDb.config({ IMPORT_STOP_MARGIN_MS: '1000' }));
    const result = await handler({}, fakeContext(30_000));
    expect(result).toEqual({
      task: 'import',
      jobs: [
        { batchId: job.batchId, outcome: 'completed', processedRows: 1, importedRows: 1, failedRows: 0 },
      ],
    });
    expect(await readingLines(testDb)).toEqual(['E1 daily 2024-01-01 00:00:00 - 3.5000 actual']);
  });

  it('claims nothing when too little time is left to import safely', async () => {
    const job = await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-01-02,1\n' });
    const handler = createProcessImportsHandler(testDb.config({ IMPORT_STOP_MARGIN_MS: '5000' }));
    const result = await handler({}, fakeContext(8000));
    expect(result).toEqual({ task: 'import', jobs: [] });
    expect((await readJob(testDb, job.batchId)).status).toBe('queued');
  });

  it('purges finished jobs past the retention on the purge schedule', async () => {
    const job = await queueJob(testDb, { type: 'daily', csv: 'MPAN,Date,Reading\nE1,2024-01-01,1\n' });
    await testDb.admin.query(
      `UPDATE \`${testDb.name}\`.import_jobs SET status = 'cancelled', completed_at = NOW(3) - INTERVAL 40 DAY WHERE batch_id = ?`,
      [job.batchId],
    );
    const handler = createProcessImportsHandler(testDb.config({ IMPORT_STOP_MARGIN_MS: '1000' }));
    expect(await handler({ task: 'purge' }, fakeContext(30_000))).toEqual({ task: 'purge', deletedJobs: 1 });
  });

  it('fails with a DatabaseError and leaves no session when the login is refused', async () => {
    const handler = createProcessImportsHandler(testDb.config({ DB_PASSWORD: 'wrong' }));
    await expect(handler({}, fakeContext())).rejects.toBeInstanceOf(DatabaseError);
  });
});
