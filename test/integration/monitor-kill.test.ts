// runMonitor against the real server: which sessions it kills and which it never touches, the dry run,
// the emergency threshold, 1094 and 1095, and the import queue numbers.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MonitorConfig } from '../../lib/config.js';
import { withConnection } from '../../lib/db.js';
import { killCandidate, killSessions } from '../../lib/monitor/kill-sessions.js';
import { NO_NEVER_KILL, selectKillCandidates, type Thresholds } from '../../lib/monitor/policy.js';
import { type MonitorInput, runMonitor } from '../../lib/monitor/run-monitor.js';
import { readServerState, readSessions } from '../../lib/monitor/snapshot-repository.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { migrate } from '../helpers/import-jobs.js';
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

const LIMIT = 10;
const SHORT: Thresholds = {
  maxIdleSeconds: 1,
  maxIdleInTransactionSeconds: 100,
  emergencyMaxIdleSeconds: 1,
  usageCautionPercent: 60,
  usageWarningPercent: 80,
};

let testDb: TestDatabase;
let monitorUser: TestUser;
let weakMonitorUser: TestUser;
let bystander: TestUser;
const pool = new SessionPool();

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: LIMIT });
  await migrate(testDb);
  monitorUser = await createTestUser(testDb.admin, 'mon', [
    ...monitorGrants({ connectionAdmin: true, importSchema: testDb.name }),
    // A limit of its own (docs/design.md#the-monitors-own-login): the session value of @@max_user_connections is then 3.
    `ALTER USER ?@'%' WITH MAX_USER_CONNECTIONS 3`,
  ]);
  // May see every session but not kill them (1095), and may not read import_jobs.
  weakMonitorUser = await createTestUser(testDb.admin, 'monweak', monitorGrants({ connectionAdmin: false }));
  bystander = await createTestUser(testDb.admin, 'by', []);
});

afterAll(async () => {
  if (testDb) await pool.closeAll(testDb.admin);
  for (const user of [monitorUser, weakMonitorUser, bystander]) await user?.drop();
  await testDb?.drop();
});

beforeEach(async () => {
  expect(await testDb.sessionCount()).toBe(0);
});

afterEach(async () => {
  await pool.closeAll(testDb.admin);
  await testDb.admin.query(`DELETE FROM \`${testDb.name}\`.import_jobs`);
  expect(await testDb.waitForSessions(0)).toBe(0);
  expect(await monitorUser.waitForSessions(0)).toBe(0);
  expect(await weakMonitorUser.waitForSessions(0)).toBe(0);
});

const app = () => ({ user: testDb.user, password: testDb.password, database: testDb.name });

function monitorConfigFor(user: TestUser): MonitorConfig {
  const monitor = testDb.config({ MONITOR_DB_USER: user.user, MONITOR_DB_PASSWORD: user.password }).monitor;
  if (monitor === undefined) throw new Error('monitor config missing');
  return monitor;
}

async function runAs(user: TestUser, input: Partial<MonitorInput> = {}) {
  const log = captureAudit();
  const report = await withConnection(monitorConfigFor(user).db, (db) =>
    runMonitor(db, {
      targetUsers: [testDb.user],
      thresholds: SHORT,
      killIdle: true,
      maxBusySeconds: undefined,
      neverKill: NO_NEVER_KILL,
      maxKillsPerRun: 50,
      recordCounters: false,
      importSchema: testDb.name,
      now: new Date(),
      log,
      ...input,
    }),
  );
  return { report, log };
}

/** Timing values are SQL expressions written in this file, never input. */
async function seedJobRow(
  status: string,
  timing: { leaseExpiresAt?: string; completedAt?: string; errorCode?: string } = {},
): Promise<void> {
  await testDb.admin.query(
    `INSERT INTO \`${testDb.name}\`.import_jobs
       (batch_id, filename, import_type, status, lease_expires_at, completed_at, error_code)
     VALUES (UUID(), 'seed.csv', 'daily', ?, ${timing.leaseExpiresAt ?? 'NULL'}, ${timing.completedAt ?? 'NULL'}, ?)`,
    [status, timing.errorCode ?? null],
  );
}

/** The session mix of the issue: idle ones, one idle in a transaction, one mid-query, a bystander's. */
async function openMixedSessions() {
  const idle = await pool.openMany(2, app());
  await seedJobRow('queued');
  const inTransaction = await pool.open(app());
  await inTransaction.query('START TRANSACTION');
  await inTransaction.query('SELECT id FROM import_jobs FOR UPDATE');
  const busy = await pool.open(app());
  // Killed by the pool's cleanup; until then it is mid-statement.
  void busy.query('SELECT SLEEP(30)').catch(() => undefined);
  const bystanderSession = await pool.open({ user: bystander.user, password: bystander.password });
  await sleep(PAST_ONE_SECOND_MS);
  const fresh = await pool.open(app());
  return { idle, inTransaction, busy, bystanderSession, fresh };
}

describe('runMonitor kills', () => {
  it('kills only the target user’s sessions idle past the threshold, and nothing else', async () => {
    const sessions = await openMixedSessions();
    const { report, log } = await runAs(monitorUser);

    const idleIds = sessions.idle.map(threadIdOf).sort((a, b) => a - b);
    expect(report.kills.map((kill) => [kill.id, kill.result, kill.reason]).sort()).toEqual(
      idleIds.map((id) => [id, 'killed', 'idle']).sort(),
    );
    expect(report.killedSessions).toBe(2);
    expect(report.killFailures).toBe(0);
    for (const id of idleIds) expect(await sessionExists(testDb.admin, id)).toBe(false);
    for (const spared of [sessions.inTransaction, sessions.busy, sessions.bystanderSession, sessions.fresh]) {
      expect(await sessionExists(testDb.admin, threadIdOf(spared))).toBe(true);
    }
    expect(report.users).toEqual([
      expect.objectContaining({
        user: testDb.user,
        total: 5,
        active: 1,
        sleeping: 4,
        idle: 3,
        idleInTransaction: 1,
        effectiveLimit: LIMIT,
        usagePercent: 50,
        level: 'healthy',
      }),
    ]);
    const killLines = log.lines
      .filter((line) => line.message === 'killed idle session')
      .sort((a, b) => Number(a.fields.sessionId) - Number(b.fields.sessionId));
    expect(killLines).toEqual(
      idleIds.map((id) =>
        expect.objectContaining({
          level: 'info',
          fields: expect.objectContaining({
            sessionId: id,
            user: testDb.user,
            host: expect.stringMatching(/^(localhost|127\.0\.0\.1)/),
            idleSeconds: expect.any(Number),
            reason: 'idle',
            method: 'kill',
          }),
        }),
      ),
    );
  });

  it('leaves every session alone in a dry run and reports what it would kill', async () => {
    const sessions = await openMixedSessions();
    const { report, log } = await runAs(monitorUser, { killIdle: false });

    expect(report.dryRun).toBe(true);
    expect(report.kills.map((kill) => [kill.id, kill.result]).sort()).toEqual(
      sessions.idle.map((session) => [threadIdOf(session), 'would-kill']).sort(),
    );
    expect(report.killedSessions).toBe(0);
    expect(log.lines.map((line) => line.message)).toEqual([
      'would kill idle session (dry run)',
      'would kill idle session (dry run)',
    ]);
    expect(await testDb.sessionCount()).toBe(5);
  });

  it('kills a session idle in a transaction only after MAX_IDLE_IN_TRANSACTION_SECONDS, rolling it back', async () => {
    const session = await pool.open(app());
    await session.query('START TRANSACTION');
    await session.query(
      "INSERT INTO import_jobs (batch_id, filename, import_type) VALUES (UUID(), 'uncommitted.csv', 'daily')",
    );
    await sleep(PAST_ONE_SECOND_MS);

    const under = await runAs(monitorUser, { thresholds: { ...SHORT, maxIdleInTransactionSeconds: 60 } });
    expect(under.report.kills).toEqual([]);
    expect(under.report.idleSessions).toEqual([expect.objectContaining({ inTransaction: true })]);

    const past = await runAs(monitorUser, { thresholds: { ...SHORT, maxIdleInTransactionSeconds: 1 } });
    expect(past.report.kills).toEqual([
      expect.objectContaining({ id: threadIdOf(session), result: 'killed', reason: 'idle-in-transaction' }),
    ]);
    const [rows] = await testDb.admin.query(`SELECT COUNT(*) AS n FROM \`${testDb.name}\`.import_jobs`);
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('drops to the emergency idle threshold at warning level', async () => {
    const sessions = await pool.openMany(9, app());
    await sleep(PAST_ONE_SECOND_MS);
    const thresholds = { ...SHORT, maxIdleSeconds: 600, emergencyMaxIdleSeconds: 1 };

    const atCaution = await runAs(monitorUser, {
      thresholds: { ...thresholds, usageCautionPercent: 80, usageWarningPercent: 95 },
    });
    expect(atCaution.report.level).toBe('caution');
    expect(atCaution.report.kills).toEqual([]);

    const atWarning = await runAs(monitorUser, { thresholds });
    expect(atWarning.report.level).toBe('warning');
    expect(atWarning.report.users[0]?.usagePercent).toBe(90);
    expect(atWarning.report.idleThresholdSeconds).toBe(1);
    expect(atWarning.report.kills).toHaveLength(9);
    expect(new Set(atWarning.report.kills.map((kill) => `${kill.result}/${kill.reason}`))).toEqual(
      new Set(['killed/idle-emergency']),
    );
    expect(await testDb.waitForSessions(0)).toBe(0);
    expect(sessions).toHaveLength(9);
  });

  it('counts a session that vanished before KILL (1094) as gone, not as a failure', async () => {
    const session = await pool.open(app());
    const id = threadIdOf(session);
    await session.end();
    expect(await testDb.waitForSessions(0)).toBe(0);

    const outcome = await withConnection(monitorConfigFor(monitorUser).db, (db) =>
      killCandidate(
        db,
        {
          session: {
            id,
            user: testDb.user,
            host: 'localhost',
            db: null,
            command: 'Sleep',
            timeSeconds: 5,
            state: '',
            info: null,
            transactionSeconds: null,
            programName: null,
          },
          reason: 'idle',
          thresholdSeconds: 1,
        },
        { rdsKillAvailable: undefined },
      ),
    );
    expect(outcome).toMatchObject({ id, result: 'gone', method: 'kill', errno: 1094 });
  });

  it('reports a denied KILL (1095) as a kill failure when mysql.rds_kill does not exist', async () => {
    const [idle] = await pool.openMany(1, app());
    await sleep(PAST_ONE_SECOND_MS);
    const { report, log } = await runAs(weakMonitorUser, { importSchema: undefined });

    expect(report.kills).toEqual([
      expect.objectContaining({
        id: idle && threadIdOf(idle),
        result: 'failed',
        method: 'kill',
        errno: 1095,
        errorCode: 'ER_KILL_DENIED_ERROR',
      }),
    ]);
    expect(report.killFailures).toBe(1);
    expect(report.killedSessions).toBe(0);
    expect(log.lines).toEqual([
      expect.objectContaining({ level: 'warn', message: 'could not kill idle session' }),
    ]);
    expect(await testDb.sessionCount()).toBe(1);
  });
});

describe('runMonitor snapshot', () => {
  it('reads the global limits, not the monitor account’s own session value', async () => {
    const [rows] = await testDb.admin.query(
      'SELECT @@GLOBAL.max_connections AS maxConnections, @@GLOBAL.max_user_connections AS maxUserConnections',
    );
    const { report } = await runAs(monitorUser, { killIdle: false });
    expect([report.server]).toEqual(rows);
    expect(report.server.maxUserConnections).not.toBe(3);
    expect(report.users[0]).toMatchObject({ accountLimit: LIMIT, effectiveLimit: LIMIT });
  });

  it('never counts or lists its own session, even when its own user is the target', async () => {
    const { report } = await runAs(monitorUser, { targetUsers: [monitorUser.user], killIdle: false });
    expect(report.users[0]).toMatchObject({ user: monitorUser.user, total: 0 });
    expect(report.ownSessionId).toBeGreaterThan(0);
    expect(report.kills).toEqual([]);
  });

  it('re-reads candidates before killing: spares one that ran a statement since, counts a vanished one as gone', async () => {
    const [busyAgain, vanished] = await pool.openMany(2, app());
    if (busyAgain === undefined || vanished === undefined) throw new Error('sessions not opened');
    await sleep(PAST_ONE_SECOND_MS);
    const policy = {
      targetUsers: [testDb.user],
      level: 'healthy',
      thresholds: SHORT,
      ownSessionId: null,
      transactionsVisible: true,
      neverKill: NO_NEVER_KILL,
      programNamesVisible: false,
      maxBusySeconds: null,
      nowMs: Date.now(),
    } as const;
    const staleSnapshot = await withConnection(monitorConfigFor(monitorUser).db, async (db) =>
      readSessions(db, await readServerState(db)),
    );
    expect(staleSnapshot.transactionsVisible).toBe(true);
    const candidates = selectKillCandidates(staleSnapshot.sessions, policy);
    expect(candidates).toHaveLength(2);
    // Between the snapshot and the kills: one session runs a statement, the other ends.
    await busyAgain.query('SELECT 1');
    const vanishedId = threadIdOf(vanished);
    await vanished.end();
    expect(await testDb.waitForSessions(1)).toBe(1);
    const log = captureAudit();

    const outcomes = await withConnection(monitorConfigFor(monitorUser).db, (db) =>
      killSessions(db, candidates, { dryRun: false, policy, log, plan: staleSnapshot.plan }),
    );
    expect(outcomes.map((outcome) => [outcome.id, outcome.result]).sort()).toEqual(
      [
        [threadIdOf(busyAgain), 'spared'],
        [vanishedId, 'gone'],
      ].sort(),
    );
    expect(await sessionExists(testDb.admin, threadIdOf(busyAgain))).toBe(true);
    expect(log.lines.map((line) => line.fields.result).sort()).toEqual(['gone', 'spared']);
  });
});

describe('runMonitor import queue', () => {
  it('reads depth, stuck jobs and the 24 h failure rate when the monitor may read import_jobs', async () => {
    await seedJobRow('queued');
    await seedJobRow('queued');
    await seedJobRow('processing', { leaseExpiresAt: 'UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE' });
    await seedJobRow('processing', { leaseExpiresAt: 'UTC_TIMESTAMP(3) + INTERVAL 5 MINUTE' });
    await seedJobRow('failed', { completedAt: 'UTC_TIMESTAMP(3)' });
    // Rejected for its content: finished and failed, but not a failure of the system.
    await seedJobRow('failed', { completedAt: 'UTC_TIMESTAMP(3)', errorCode: 'FORMAT_ERROR' });
    for (let i = 0; i < 3; i++) await seedJobRow('completed', { completedAt: 'UTC_TIMESTAMP(3)' });
    await seedJobRow('failed', { completedAt: 'UTC_TIMESTAMP(3) - INTERVAL 2 DAY' });

    const { report } = await runAs(monitorUser);
    expect(report.importQueue).toEqual({
      queued: 2,
      processing: 2,
      stuck: 1,
      failedLast24h: 2,
      systemFailedLast24h: 1,
      finishedLast24h: 5,
      failureRatePercent: 20,
    });
    expect(report.importQueueSkipped).toBeNull();
  });

  it('skips the queue numbers with a warning, without failing, when the monitor may not read import_jobs', async () => {
    const { report, log } = await runAs(weakMonitorUser, { killIdle: false });
    expect(report.importQueue).toBeNull();
    expect(report.importQueueSkipped).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(log.lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        fields: expect.objectContaining({ errno: 1142, schema: testDb.name }),
      }),
      // The same missing grants cost the counter deltas, and say so.
      expect.objectContaining({
        level: 'warn',
        message: 'counter deltas skipped: the monitor cannot use monitor_counters',
      }),
    ]);
  });
});
