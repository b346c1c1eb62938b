// `npm run soak`: 10,000 withConnection invocations (SOAK_INVOCATIONS) mixing successes, SQL errors and
// thrown errors at random concurrency (1–30) against an app user limited to 10 connections. Run with
// --expose-gc (the npm script does) so heap figures are taken after a forced GC. Prints one table and
// exits non-zero if a session is left, the limit was passed, or an outcome was not the expected one.
// Creates and drops its own database and user.

import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { loadConfig } from '../lib/config.js';
import { prepareSoakTable, runSoak } from './soak-workload.js';

const INVOCATIONS = Number(process.env.SOAK_INVOCATIONS ?? 10_000);
const MAX_CONCURRENCY = 30;
const USER_LIMIT = 10;
const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);

const host = process.env.DB_HOST ?? '127.0.0.1';
const port = Number(process.env.DB_PORT ?? 3306);
const admin = await createConnection({
  host,
  port,
  user: process.env.DB_ROOT_USER ?? 'root',
  password: process.env.DB_ROOT_PASSWORD ?? '',
});
const suffix = randomBytes(3).toString('hex');
const database = `soak_${suffix}`;
const user = `soak_${suffix}`;
const password = randomBytes(12).toString('hex');

let failed = false;
try {
  await admin.query(`CREATE DATABASE \`${database}\``);
  await admin.query(`CREATE USER ?@'%' IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS ?`, [
    user,
    password,
    USER_LIMIT,
  ]);
  await admin.query(`GRANT ALL ON \`${database}\`.* TO ?@'%'`, [user]);
  await prepareSoakTable(admin, database);
  const config = loadConfig({
    DB_HOST: host,
    DB_PORT: String(port),
    DB_NAME: database,
    DB_USER: user,
    DB_PASSWORD: password,
  });
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
  await admin.query(`DROP USER IF EXISTS ?@'%'`, [user]);
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
}
if (failed) process.exitCode = 1;
