// `npm run bench:monitor`: one monitor run over 1,000 open sessions of the target user, half of them
// idle past the threshold, on a disposable MariaDB (so max_connections can be raised without touching
// the shared server). Prints each run's time and database round trips, next to the time of the bare
// processlist query measured on the same connection in the same run.

import { randomBytes } from 'node:crypto';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { loadConfig } from '../lib/config.js';
import { type Db, withConnection } from '../lib/db.js';
import { applyMigrations, readMigrations } from '../lib/migrate.js';
import { NO_NEVER_KILL } from '../lib/monitor/policy.js';
import { pickThresholds, runMonitor } from '../lib/monitor/run-monitor.js';
import { startDisposableMariaDb } from '../test/helpers/disposable-mariadb.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1000);
const IDLE_THRESHOLD_SECONDS = 5;
const quiet = { info: () => undefined, warn: () => undefined };

/** Counts the statements a run sends: each query/execute is one round trip. */
function counting(db: Db): { db: Db; roundTrips: () => number } {
  let count = 0;
  const counted: Db = {
    threadId: db.threadId,
    query: ((...args: Parameters<Db['query']>) => {
      count++;
      return db.query(...args);
    }) as Db['query'],
    execute: ((...args: Parameters<Db['execute']>) => {
      count++;
      return db.execute(...args);
    }) as Db['execute'],
    beginTransaction: () => db.beginTransaction(),
    commit: () => db.commit(),
    rollback: () => db.rollback(),
  };
  return { db: counted, roundTrips: () => count };
}

async function openSessions(
  count: number,
  credentials: Parameters<typeof createConnection>[0],
): Promise<Connection[]> {
  const sessions: Connection[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, () => createConnection(credentials)),
    );
    for (const connection of batch) connection.on('error', () => undefined);
    sessions.push(...batch);
  }
  return sessions;
}

const server = await startDisposableMariaDb();
const sessions: Connection[] = [];
try {
  const root = await server.connectRoot();
  await root.query('SET GLOBAL max_connections = ?', [SESSIONS + 100]);
  const testDb = await server.createDatabase({ maxUserConnections: SESSIONS + 10 });
  await withConnection(testDb.config().db, async (db) =>
    applyMigrations(db, await readMigrations('migrations')),
  );
  const monitorUser = `bench_mon_${randomBytes(3).toString('hex')}`;
  const monitorPassword = randomBytes(12).toString('hex');
  await root.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [monitorUser, monitorPassword]);
  await root.query(`GRANT PROCESS, CONNECTION ADMIN ON *.* TO ?@'%'`, [monitorUser]);
  await root.query(`GRANT SELECT ON mysql.user TO ?@'%'`, [monitorUser]);
  await root.query(`GRANT SELECT ON \`${testDb.name}\`.import_jobs TO ?@'%'`, [monitorUser]);
  const app = {
    host: server.host,
    port: server.port,
    user: testDb.user,
    password: testDb.password,
    database: testDb.name,
  };

  const openStartedAt = performance.now();
  sessions.push(...(await openSessions(SESSIONS / 2, app)));
  // The first half ages past the idle threshold; the second half is opened fresh just before the runs.
  await new Promise((resolve) => setTimeout(resolve, (IDLE_THRESHOLD_SECONDS + 1.5) * 1000));
  sessions.push(...(await openSessions(SESSIONS / 2, app)));
  const openSeconds = (performance.now() - openStartedAt) / 1000;

  const config = loadConfig({
    DB_HOST: server.host,
    DB_PORT: String(server.port),
    DB_NAME: testDb.name,
    DB_USER: testDb.user,
    DB_PASSWORD: testDb.password,
    MONITOR_DB_USER: monitorUser,
    MONITOR_DB_PASSWORD: monitorPassword,
    MAX_IDLE_SECONDS: String(IDLE_THRESHOLD_SECONDS),
    EMERGENCY_MAX_IDLE_SECONDS: String(IDLE_THRESHOLD_SECONDS),
  });
  const monitor = config.monitor;
  if (monitor === undefined) throw new Error('monitor config missing');

  const rows = await withConnection(monitor.db, async (rawDb) => {
    const results = [];
    for (const killIdle of [false, true]) {
      // The bare processlist read on the same connection, before the run, as the floor to compare with.
      const bareStartedAt = performance.now();
      const [list] = await rawDb.query<RowDataPacket[]>('SELECT * FROM information_schema.PROCESSLIST');
      const bareMs = performance.now() - bareStartedAt;
      const { db, roundTrips } = counting(rawDb);
      const startedAt = performance.now();
      const report = await runMonitor(db, {
        targetUsers: [testDb.user],
        thresholds: pickThresholds(monitor),
        killIdle,
        maxBusySeconds: undefined,
        neverKill: NO_NEVER_KILL,
        // Every idle session in one run, as before the per-run cap: the bench measures the kill loop.
        maxKillsPerRun: SESSIONS,
        recordCounters: false,
        importSchema: testDb.name,
        now: new Date(),
        log: quiet,
      });
      const runMs = performance.now() - startedAt;
      results.push({
        run: killIdle ? 'kill idle' : 'dry run',
        targetSessions: report.users[0]?.total,
        idle: report.users[0]?.idle,
        killed: report.killedSessions,
        killFailures: report.killFailures,
        runMs: runMs.toFixed(1),
        roundTrips: roundTrips(),
        bareProcesslistMs: bareMs.toFixed(1),
        processlistRows: list.length,
      });
    }
    return results;
  });
  console.table(rows);
  const [left] = await root.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
    [testDb.user],
  );
  console.log(
    `${SESSIONS} sessions opened in ${openSeconds.toFixed(1)} s (half idle > ${IDLE_THRESHOLD_SECONDS} s); ` +
      `app sessions left after the killing run: ${Number(left[0]?.n)} (expected ${SESSIONS / 2})`,
  );
  console.log(
    `node ${process.version}; disposable MariaDB ${(await root.query<RowDataPacket[]>('SELECT VERSION() AS v'))[0][0]?.v}`,
  );
  await root.end();
} finally {
  await Promise.all(sessions.map((session) => session.end().catch(() => session.destroy())));
  await server.destroy();
}
