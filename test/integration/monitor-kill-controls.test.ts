// The pt-kill style controls against the real server: a runaway SELECT SLEEP is stopped with its
// session kept, the processor's tagged bulk statement is left alone while its deadline is ahead, a
// never-kill session survives (by host pattern here; by program_name on a server with
// performance_schema), and the per-run cap holds with idle sessions killed oldest first.

import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MonitorConfig } from '../../lib/config.js';
import { withConnection } from '../../lib/db.js';
import { killCandidate } from '../../lib/monitor/kill-sessions.js';
import {
  type KillCandidate,
  NO_NEVER_KILL,
  selectKillCandidates,
  type Thresholds,
} from '../../lib/monitor/policy.js';
import { type MonitorInput, runMonitor } from '../../lib/monitor/run-monitor.js';
import { readServerState, readSessions } from '../../lib/monitor/snapshot-repository.js';
import { bulkLoadTag } from '../../lib/statement-tag.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { type DisposableMariaDb, startDisposableMariaDb } from '../helpers/disposable-mariadb.js';
import {
  captureAudit,
  createTestUser,
  monitorGrants,
  PAST_ONE_SECOND_MS,
  SessionPool,
  sessionExists,
  sleep,
  type TestUser,
  threadIdOf,
} from '../helpers/monitor.js';

const SHORT: Thresholds = {
  maxIdleSeconds: 1,
  maxIdleInTransactionSeconds: 100,
  emergencyMaxIdleSeconds: 1,
  usageCautionPercent: 60,
  usageWarningPercent: 80,
};

let testDb: TestDatabase;
let monitorUser: TestUser;
const pool = new SessionPool();

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 20 });
  monitorUser = await createTestUser(testDb.admin, 'mon', monitorGrants({ connectionAdmin: true }));
});

afterAll(async () => {
  if (testDb) await pool.closeAll(testDb.admin);
  await monitorUser?.drop();
  await testDb?.drop();
});

beforeEach(async () => {
  expect(await testDb.sessionCount()).toBe(0);
});

afterEach(async () => {
  await pool.closeAll(testDb.admin);
  expect(await testDb.waitForSessions(0)).toBe(0);
  expect(await monitorUser.waitForSessions(0)).toBe(0);
});

const app = () => ({ user: testDb.user, password: testDb.password, database: testDb.name });

function monitorConfig(): MonitorConfig {
  const monitor = testDb.config({
    MONITOR_DB_USER: monitorUser.user,
    MONITOR_DB_PASSWORD: monitorUser.password,
  }).monitor;
  if (monitor === undefined) throw new Error('monitor config missing');
  return monitor;
}

async function run(input: Partial<MonitorInput> = {}) {
  const log = captureAudit();
  const report = await withConnection(monitorConfig().db, (db) =>
    runMonitor(db, {
      targetUsers: [testDb.user],
      thresholds: { ...SHORT, maxIdleSeconds: 3600, emergencyMaxIdleSeconds: 3600 },
      killIdle: true,
      maxBusySeconds: 1,
      neverKill: NO_NEVER_KILL,
      maxKillsPerRun: 50,
      recordCounters: false,
      importSchema: undefined,
      now: new Date(),
      log,
      ...input,
    }),
  );
  return { report, log };
}

/** Polls until the session runs a statement starting with `statement`. */
async function waitUntilRunning(id: number, statement: string): Promise<void> {
  const until = Date.now() + 5000;
  for (;;) {
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      'SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = ?',
      [id],
    );
    if (String(rows[0]?.INFO ?? '').startsWith(statement)) return;
    if (Date.now() > until) throw new Error(`session ${id} never ran ${statement}`);
    await sleep(20);
  }
}

describe('runaway statements', () => {
  it('stops a SELECT SLEEP past MAX_BUSY_SECONDS with KILL QUERY and keeps its session', async () => {
    const runaway = await pool.open(app());
    const sleeping = runaway.query('SELECT SLEEP(30) AS slept').catch((error: unknown) => error);
    await sleep(PAST_ONE_SECOND_MS);

    const { report, log } = await run();

    expect(report.kills).toEqual([
      expect.objectContaining({
        id: threadIdOf(runaway),
        reason: 'runaway-statement',
        action: 'kill-query',
        result: 'killed',
      }),
    ]);
    expect(report.stoppedStatements).toBe(1);
    // The statement ends with ER_QUERY_INTERRUPTED; the connection stays open and usable.
    expect(await sleeping).toMatchObject({ errno: 1317, code: 'ER_QUERY_INTERRUPTED' });
    expect(await sessionExists(testDb.admin, threadIdOf(runaway))).toBe(true);
    const [again] = await runaway.query<RowDataPacket[]>('SELECT 1 AS one');
    expect(Number(again[0]?.one)).toBe(1);
    expect(log.lines.map((line) => line.message)).toContain('stopped runaway statement');
  });

  it('on MariaDB stops the statement it saw by QUERY_ID, never the statement the session runs next', async () => {
    const session = await pool.open(app());
    const seen = async () => {
      const policy = {
        targetUsers: [testDb.user],
        level: 'healthy',
        thresholds: { ...SHORT, maxIdleSeconds: 3600, emergencyMaxIdleSeconds: 3600 },
        ownSessionId: null,
        transactionsVisible: true,
        neverKill: NO_NEVER_KILL,
        programNamesVisible: false,
        maxBusySeconds: 1,
        nowMs: Date.now(),
      } as const;
      const snapshot = await withConnection(monitorConfig().db, async (db) =>
        readSessions(db, await readServerState(db)),
      );
      const [candidate, ...others] = selectKillCandidates(snapshot.sessions, policy);
      expect(others).toEqual([]);
      expect(candidate).toMatchObject({ reason: 'runaway-statement', session: { id: threadIdOf(session) } });
      if (candidate === undefined) throw new Error('no runaway candidate');
      expect(candidate.session.queryId).toBeTypeOf('number');
      return candidate;
    };
    const kill = (candidate: KillCandidate) =>
      withConnection(monitorConfig().db, (db) =>
        killCandidate(db, candidate, { rdsKillAvailable: undefined }),
      );

    // The statement seen ends by itself, the session starts the next one, then the kill arrives.
    const first = session.query('SELECT SLEEP(3.5) AS slept');
    await sleep(PAST_ONE_SECOND_MS);
    const stale = await seen();
    expect(await first).toEqual([[{ slept: 0 }], expect.anything()]);
    const next = session.query<RowDataPacket[]>('SELECT SLEEP(2) AS slept').catch((error: unknown) => error);
    await waitUntilRunning(threadIdOf(session), 'SELECT SLEEP(2)');
    expect(await kill(stale)).toMatchObject({ result: 'gone', method: 'kill', errno: 1957 });
    expect(await next).toEqual([[{ slept: 0 }], expect.anything()]);

    // The statement seen still runs: it alone is stopped; the session's next statement runs in full.
    const runaway = session.query('SELECT SLEEP(30) AS slept').catch((error: unknown) => error);
    await sleep(PAST_ONE_SECOND_MS);
    expect(await kill(await seen())).toMatchObject({ result: 'killed', method: 'kill', errno: null });
    expect(await runaway).toMatchObject({ errno: 1317, code: 'ER_QUERY_INTERRUPTED' });
    const [after] = await session.query<RowDataPacket[]>('SELECT SLEEP(0.3) AS slept');
    expect(after).toEqual([{ slept: 0 }]);
  });

  it('leaves a tagged bulk statement running while its deadline is ahead, and stops it once it has passed', async () => {
    const [inTime, late] = await pool.openMany(2, app());
    if (inTime === undefined || late === undefined) throw new Error('sessions not opened');
    const inTimeQuery = inTime
      .query(`${bulkLoadTag(Date.now() + 120_000)} SELECT SLEEP(6) AS slept`)
      .catch((error: unknown) => error);
    const lateQuery = late
      .query(`${bulkLoadTag(Date.now() + 500)} SELECT SLEEP(30) AS slept`)
      .catch((error: unknown) => error);
    await sleep(PAST_ONE_SECOND_MS);

    const { report } = await run();

    expect(report.kills.map((kill) => [kill.id, kill.result])).toEqual([[threadIdOf(late), 'killed']]);
    expect(report.decisions).toContainEqual(
      expect.objectContaining({
        id: threadIdOf(inTime),
        decision: { kill: false, skip: 'bulk-load-in-time' },
      }),
    );
    expect(await lateQuery).toMatchObject({ errno: 1317 });
    // Still running: KILL QUERY would have ended it at once.
    const [status] = await testDb.admin.query<RowDataPacket[]>(
      'SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = ?',
      [threadIdOf(inTime)],
    );
    expect(status[0]?.COMMAND).toBe('Query');
    await testDb.admin.query('KILL QUERY ?', [threadIdOf(inTime)]);
    await inTimeQuery;
  });
});

describe('never-kill and the per-run cap', () => {
  it('reports but never kills a session whose host matches MONITOR_NEVER_KILL', async () => {
    const [idle, busy] = await pool.openMany(2, app());
    if (idle === undefined || busy === undefined) throw new Error('sessions not opened');
    const busyQuery = busy.query('SELECT SLEEP(30)').catch((error: unknown) => error);
    await sleep(PAST_ONE_SECOND_MS);

    // Sessions from 127.0.0.1 show as localhost (or 127.0.0.1) with their port.
    const { report } = await run({
      thresholds: SHORT,
      neverKill: { programNames: [], hostPatterns: ['localhost', '127.0.0.*'] },
    });

    expect(report.kills).toEqual([]);
    expect(report.decisions.map((entry) => entry.decision)).toEqual([
      { kill: false, skip: 'never-kill' },
      { kill: false, skip: 'never-kill' },
    ]);
    expect(report.users[0]?.idle).toBe(1);
    expect(await sessionExists(testDb.admin, threadIdOf(idle))).toBe(true);
    await testDb.admin.query('KILL QUERY ?', [threadIdOf(busy)]);
    await busyQuery;
  });

  it('kills at most MAX_KILLS_PER_RUN, the longest idle first, and reports the rest as left', async () => {
    const oldest = await pool.open(app());
    await sleep(1100);
    const middle = await pool.open(app());
    await sleep(1100);
    const youngest = await pool.openMany(2, app());
    await sleep(PAST_ONE_SECOND_MS);

    const { report, log } = await run({ thresholds: SHORT, maxKillsPerRun: 2 });

    expect(report.kills.slice(0, 2).map((kill) => [kill.id, kill.result])).toEqual([
      [threadIdOf(oldest), 'killed'],
      [threadIdOf(middle), 'killed'],
    ]);
    expect(report.kills.slice(2).map((kill) => [kill.id, kill.result])).toEqual(
      expect.arrayContaining(youngest.map((session) => [threadIdOf(session), 'left'])),
    );
    expect(report.kills).toHaveLength(4);
    expect(report.killedSessions).toBe(2);
    expect(report.killsLeft).toBe(2);
    for (const session of youngest) expect(await sessionExists(testDb.admin, threadIdOf(session))).toBe(true);
    expect(await testDb.waitForSessions(2)).toBe(2);
    expect(log.lines.filter((line) => line.message.startsWith('left for the next run'))).toHaveLength(2);
  });
});

describe('never-kill by program_name (a server with performance_schema on)', () => {
  let server: DisposableMariaDb;
  let db: TestDatabase;
  let monitor: TestUser;

  beforeAll(async () => {
    server = await startDisposableMariaDb({ serverOptions: ['--performance-schema=ON'] });
    db = await server.createDatabase({ maxUserConnections: 10 });
    monitor = await createTestUser(db.admin, 'mon', monitorGrants({ connectionAdmin: true }));
    // MariaDB lets a PROCESS holder read performance_schema only with a grant on it.
    await db.admin.query(`GRANT SELECT ON performance_schema.* TO ?@'%'`, [monitor.user]);
  }, 60_000);

  afterAll(async () => {
    await monitor?.drop();
    await db?.drop();
    await server?.destroy();
  });

  it('keeps the listed program’s idle session, kills the other program’s, and reads program names', async () => {
    // Sessions on the disposable server, each with the program_name connect attribute the functions send.
    const connect = (program: string) =>
      createConnection({
        host: server.host,
        port: server.port,
        user: db.user,
        password: db.password,
        database: db.name,
        connectAttributes: { program_name: program },
      });
    const kept = await connect('eclectyc-ci-processImports');
    const killed = await connect('eclectyc-ci-api');
    killed.on('error', () => undefined);
    await sleep(PAST_ONE_SECOND_MS);
    const config = db.config({
      MONITOR_DB_USER: monitor.user,
      MONITOR_DB_PASSWORD: monitor.password,
    }).monitor;
    if (config === undefined) throw new Error('monitor config missing');

    try {
      const report = await withConnection(config.db, (connection) =>
        runMonitor(connection, {
          targetUsers: [db.user],
          thresholds: SHORT,
          killIdle: true,
          maxBusySeconds: undefined,
          neverKill: { programNames: ['eclectyc-ci-processImports'], hostPatterns: [] },
          maxKillsPerRun: 50,
          recordCounters: false,
          importSchema: undefined,
          now: new Date(),
          log: captureAudit(),
        }),
      );

      expect(report.programNamesVisible).toBe(true);
      expect(report.sessionSource).toBe('information_schema');
      expect(report.kills.map((kill) => [kill.id, kill.programName, kill.result])).toEqual([
        [threadIdOf(killed), 'eclectyc-ci-api', 'killed'],
      ]);
      expect(report.decisions).toContainEqual(
        expect.objectContaining({ id: threadIdOf(kept), decision: { kill: false, skip: 'never-kill' } }),
      );
      expect(await sessionExists(db.admin, threadIdOf(kept))).toBe(true);
    } finally {
      kept.destroy();
      killed.destroy();
    }
  });

  it('kills nothing when program names are listed but the monitor cannot read them', async () => {
    const idle = await createConnection({
      host: server.host,
      port: server.port,
      user: db.user,
      password: db.password,
    });
    await db.admin.query(`REVOKE SELECT ON performance_schema.* FROM ?@'%'`, [monitor.user]);
    await sleep(PAST_ONE_SECOND_MS);
    const config = db.config({
      MONITOR_DB_USER: monitor.user,
      MONITOR_DB_PASSWORD: monitor.password,
    }).monitor;
    if (config === undefined) throw new Error('monitor config missing');
    try {
      const report = await withConnection(config.db, (connection) =>
        runMonitor(connection, {
          targetUsers: [db.user],
          thresholds: SHORT,
          killIdle: true,
          maxBusySeconds: undefined,
          neverKill: { programNames: ['eclectyc-ci-processImports'], hostPatterns: [] },
          maxKillsPerRun: 50,
          recordCounters: false,
          importSchema: undefined,
          now: new Date(),
          log: captureAudit(),
        }),
      );
      expect(report.programNamesVisible).toBe(false);
      expect(report.kills).toEqual([]);
      expect(report.decisions).toEqual([
        expect.objectContaining({
          id: threadIdOf(idle),
          decision: { kill: false, skip: 'never-kill-unverifiable' },
        }),
      ]);
      expect(await sessionExists(db.admin, threadIdOf(idle))).toBe(true);
    } finally {
      idle.destroy();
    }
  });
});
