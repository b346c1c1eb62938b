// `npm run soak`: 10,000 withConnection invocations (SOAK_INVOCATIONS) mixing successes, SQL errors and
// thrown errors at random concurrency (1–30) against an app user limited to 10 connections. Run with
// --expose-gc (the npm script does) so heap figures are taken after a forced GC. Prints one table and
// exits non-zero if a session is left, the limit was passed, or an outcome was not the expected one.
// Creates and drops its own database and user.

import { availableParallelism } from 'node:os';
import type { RowDataPacket } from 'mysql2/promise';
import { createTestDatabase } from '../test/helpers/database.js';
import { prepareSoakTable, runSoak } from './soak-workload.js';

const INVOCATIONS = Number(process.env.SOAK_INVOCATIONS ?? 10_000);
const MAX_CONCURRENCY = 30;
const USER_LIMIT = 10;
const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);

// The same helper the tests use: its own database and a user WITH MAX_USER_CONNECTIONS, dropped after.
const testDb = await createTestDatabase({ maxUserConnections: USER_LIMIT });
const { admin, name: database, user } = testDb;

let failed = false;
try {
  await prepareSoakTable(admin, database);
  const config = testDb.config();
  const report = await runSoak({
    db: config.db,
    invocations: INVOCATIONS,
    maxConcurrency: MAX_CONCURRENCY,
    admin,
    user,
    seed: SEED,
  });
  const [rows] = await admin.query<RowDataPacket[]>('SELECT VERSION() AS version');
  console.log(
    `Machine: ${availableParallelism()} CPUs, Node ${process.version}, server ${String(rows[0]?.version)}; ` +
      `seed ${SEED}; heap after forced GC: ${report.gcForced ? 'yes' : 'no (run with --expose-gc)'}\n`,
  );
  const errors = Object.entries(report.outcomes)
    .filter(([outcome]) => outcome !== 'ok')
    .map(([outcome, n]) => `${n} ${outcome}`)
    .join('; ');
  console.log(
    '| Invocations | Waves | Successes | Errors by type | Unexpected | Peak sessions (limit) | Sessions after | Heap MB start → end | RSS MB start → end | Wall s |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  console.log(
    `| ${report.invocations} | ${report.waves} | ${report.outcomes.ok ?? 0} | ${errors} | ${report.unexpectedCount} | ` +
      `${report.peakSessions} (${USER_LIMIT}) | ${report.sessionsAfter} | ` +
      `${report.memoryStart.heapUsedMb} → ${report.memoryEnd.heapUsedMb} | ${report.memoryStart.rssMb} → ${report.memoryEnd.rssMb} | ` +
      `${(report.wallMs / 1000).toFixed(1)} |`,
  );
  for (const line of report.unexpected) console.log(`unexpected: ${line}`);
  failed = report.sessionsAfter !== 0 || report.peakSessions > USER_LIMIT || report.unexpectedCount > 0;
} finally {
  await testDb.drop();
}
if (failed) process.exitCode = 1;
