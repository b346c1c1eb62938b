// What IMPORT_WRITE_MODE=auto does on a hardened server: started with local_infile OFF (MySQL 8's
// default, and what security benchmarks ask for), the processor must take the INSERT path and import
// exactly, where LOAD DATA LOCAL would be refused. A server setting, so a disposable server of its own.

import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withConnection } from '../../lib/db.js';
import { serverAllowsLocalInfile } from '../../lib/imports/reading-repository.js';
import {
  type DisposableMariaDb,
  type DisposableTestDatabase,
  startDisposableMariaDb,
} from '../helpers/disposable-mariadb.js';
import { intervalCsv, migrate, queueJob, readJob, runProcessor } from '../helpers/import-jobs.js';

let server: DisposableMariaDb;
let testDb: DisposableTestDatabase;

beforeAll(async () => {
  server = await startDisposableMariaDb({ serverOptions: ['--local-infile=0'] });
  testDb = await server.createDatabase({ maxUserConnections: 5 });
  await migrate(testDb);
});

afterAll(async () => {
  await testDb?.drop();
  await server?.destroy();
});

function run(writeMode: 'auto' | 'load') {
  return runProcessor(testDb, { batchSize: 700, writeMode });
}

it('auto takes the INSERT path where local_infile is OFF and imports every reading exactly', async () => {
  expect(await withConnection(testDb.config().db, serverAllowsLocalInfile)).toBe(false);
  const { csv, readings } = intervalCsv(3, 10); // 1,440 readings in 3 batches
  const job = await queueJob(testDb, { type: 'hh', csv });

  const outcomes = await run('auto');

  expect(outcomes).toEqual([
    {
      batchId: job.batchId,
      outcome: 'completed',
      processedRows: readings,
      importedRows: readings,
      failedRows: 0,
    },
  ]);
  const [stored] = await testDb.admin.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n, SUM(import_batch_id = ?) AS ours, SUM(reading_value) AS total FROM meter_readings',
    [job.batchId],
  );
  // Values m + d + p/100 over 3 meters, 10 days, 48 periods: 48·(10·3 + 3·45) + 30·11.28.
  expect(stored[0]).toEqual({ n: readings, ours: String(readings), total: '8258.4000' });
  expect((await readJob(testDb, job.batchId)).status).toBe('completed');
  expect(await testDb.sessionCount()).toBe(0);
});

it('the same server refuses the LOAD DATA path, which is why auto must not take it', async () => {
  const job = await queueJob(testDb, { type: 'hh', csv: intervalCsv(1, 1, 'M').csv });

  const outcomes = await run('load');

  expect(outcomes.map((outcome) => [outcome.batchId, outcome.outcome])).toEqual([[job.batchId, 'requeued']]);
  expect(await testDb.sessionCount()).toBe(0);
});
