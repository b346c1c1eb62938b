// The counters between runs on the real server: the scheduled run stores what it read in
// monitor_counters, the next one publishes what moved in between (refused logins show as
// Aborted_connects), the CLI only compares, and a monitor without the grant still runs.

import type { RowDataPacket } from 'mysql2/promise';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../lib/db.js';
import { NO_NEVER_KILL } from '../../lib/monitor/policy.js';
import { type MonitorInput, runMonitor } from '../../lib/monitor/run-monitor.js';
import { ADMIN_CONNECTION, createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { migrate } from '../helpers/import-jobs.js';
import { captureAudit, createTestUser, monitorGrants, type TestUser } from '../helpers/monitor.js';

const LIMIT = 2;
let testDb: TestDatabase;
let monitorUser: TestUser;
let ungranted: TestUser;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: LIMIT });
  await migrate(testDb);
  monitorUser = await createTestUser(
    testDb.admin,
    'moncnt',
    monitorGrants({ connectionAdmin: true, importSchema: testDb.name }),
  );
  // May read import_jobs but not monitor_counters.
  ungranted = await createTestUser(testDb.admin, 'moncnt0', [
    ...monitorGrants({ connectionAdmin: true }),
    `GRANT SELECT ON \`${testDb.name}\`.import_jobs TO ?@'%'`,
  ]);
});

afterAll(async () => {
  await monitorUser?.drop();
  await ungranted?.drop();
  await testDb?.drop();
});

async function runAs(user: TestUser, overrides: Partial<MonitorInput> = {}) {
  const monitor = testDb.config({ MONITOR_DB_USER: user.user, MONITOR_DB_PASSWORD: user.password }).monitor;
  if (monitor === undefined) throw new Error('monitor config missing');
  const log = captureAudit();
  const report = await withConnection(monitor.db, (db) =>
    runMonitor(db, {
      targetUsers: [testDb.user],
      thresholds: {
        maxIdleSeconds: 300,
        maxIdleInTransactionSeconds: 900,
        emergencyMaxIdleSeconds: 60,
        usageCautionPercent: 60,
        usageWarningPercent: 80,
      },
      killIdle: false,
      maxBusySeconds: undefined,
      neverKill: NO_NEVER_KILL,
      maxKillsPerRun: 50,
      recordCounters: true,
      importSchema: testDb.name,
      now: new Date(),
      log,
      ...overrides,
    }),
  );
  return { report, log };
}

async function storedRows(): Promise<RowDataPacket[]> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>(
    `SELECT counter_name, counter_value, read_at FROM \`${testDb.name}\`.monitor_counters ORDER BY counter_name`,
  );
  return rows;
}

describe('counters between runs', () => {
  it('stores the first reading, then publishes the refused logins since as an Aborted_connects delta', async () => {
    const first = await runAs(monitorUser);
    expect(first.report.countersNote).toBeNull();
    expect(first.report.counters?.abortedConnects).toMatchObject({ delta: null, basis: 'first-reading' });
    expect((await storedRows()).map((row) => row.counter_name)).toEqual([
      'Aborted_connects',
      'Connection_errors_max_connections',
    ]);

    // Three logins refused for the per-account limit (1226) between the runs.
    const holders = await testDb.openAppSessions(LIMIT);
    const refused: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      await createConnection({ ...ADMIN_CONNECTION, user: testDb.user, password: testDb.password }).catch(
        (error: unknown) => refused.push(error),
      );
    }
    await Promise.all(holders.map((holder) => holder.end()));
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatchObject({ errno: 1226 });

    const second = await runAs(monitorUser);
    const aborted = second.report.counters?.abortedConnects;
    expect(aborted?.basis).toBe('since-last-run');
    // Other tests on the shared server may add their own failed logins; ours are at least three.
    expect(aborted?.delta).toBeGreaterThanOrEqual(3);
    expect(second.report.counters?.maxUsedConnections).toBeGreaterThanOrEqual(LIMIT);
    // The shared server runs without performance_schema: no per-user totals, said plainly.
    expect(second.report.counters?.userConnections).toBeNull();
  });

  it('compares without storing when asked to (the CLI), so the scheduled series stays whole', async () => {
    await runAs(monitorUser);
    const before = await storedRows();
    const compared = await runAs(monitorUser, { recordCounters: false });
    expect(compared.report.counters?.abortedConnects.basis).toBe('since-last-run');
    expect(await storedRows()).toEqual(before);
  });

  it('runs without deltas, warning, when the monitor may not use monitor_counters', async () => {
    const { report, log } = await runAs(ungranted);
    expect(report.countersNote).toMatch(/^monitor_counters not read \(ER_TABLEACCESS_DENIED_ERROR\)$/);
    expect(report.counters?.abortedConnects.delta).toBeNull();
    expect(report.counters?.maxUsedConnections).toBeGreaterThan(0);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'counter deltas skipped: the monitor cannot use monitor_counters',
      }),
    );
  });
});
