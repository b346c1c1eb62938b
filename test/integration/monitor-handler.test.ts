// The monitor Lambda handler end to end: its own login, the kills, the EMF metrics, the summary, and
// the connection accounting (the app user back to its baseline, the monitor's own session gone).

import { createConnection } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMonitorHandler } from '../../functions/monitor.js';
import { ConfigError } from '../../lib/errors.js';
import { ADMIN_CONNECTION, createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { migrate } from '../helpers/import-jobs.js';
import { fakeContext } from '../helpers/lambda.js';
import {
  captureEmf,
  createTestUser,
  type EmfRecord,
  monitorGrants,
  PAST_ONE_SECOND_MS,
  SessionPool,
  sleep,
  type TestUser,
  threadIdOf,
} from '../helpers/monitor.js';

const LIMIT = 4;
let testDb: TestDatabase;
let monitorUser: TestUser;
const pool = new SessionPool();

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: LIMIT });
  await migrate(testDb);
  monitorUser = await createTestUser(
    testDb.admin,
    'mon',
    monitorGrants({ connectionAdmin: true, importSchema: testDb.name }),
  );
});

afterAll(async () => {
  if (testDb) await pool.closeAll(testDb.admin);
  await monitorUser?.drop();
  await testDb?.drop();
});

// Baseline: the app user and the monitor user hold no session before a test and none after it.
beforeEach(async () => {
  expect(await testDb.sessionCount()).toBe(0);
  expect(await monitorUser.sessionCount()).toBe(0);
});

afterEach(async () => {
  await pool.closeAll(testDb.admin);
  expect(await testDb.waitForSessions(0)).toBe(0);
  expect(await monitorUser.waitForSessions(0)).toBe(0);
});

const app = () => ({ user: testDb.user, password: testDb.password, database: testDb.name });

function handlerWith(overrides: Record<string, string> = {}) {
  return createMonitorHandler(
    testDb.config({
      STAGE: 'test',
      MONITOR_DB_USER: monitorUser.user,
      MONITOR_DB_PASSWORD: monitorUser.password,
      ...overrides,
    }),
  );
}

function metricValue(emf: EmfRecord[], name: string, dimensions: Record<string, string>): unknown {
  const record = emf.find(
    (line) => name in line.metrics && JSON.stringify(line.dimensions) === JSON.stringify(dimensions),
  );
  return record?.metrics[name]?.value;
}

const DIMENSIONS = { service: 'eclectyc', stage: 'test' };

describe('monitor handler', () => {
  it('kills the app user’s idle sessions, returns the report and emits its metrics as EMF', async () => {
    const idle = await pool.openMany(2, app());
    await sleep(PAST_ONE_SECOND_MS);
    const handler = handlerWith({
      KILL_IDLE: 'true',
      MAX_IDLE_SECONDS: '1',
      EMERGENCY_MAX_IDLE_SECONDS: '1',
    });

    const { result: report, error, emf } = await captureEmf(() => handler({}, fakeContext()));

    expect(error).toBeUndefined();
    expect(report?.kills.map((kill) => [kill.id, kill.result]).sort()).toEqual(
      idle.map((session) => [threadIdOf(session), 'killed']).sort(),
    );
    expect(report?.users).toEqual([expect.objectContaining({ user: testDb.user, total: 2, idle: 2 })]);
    expect(report?.level).toBe('healthy');
    expect(emf.every((line) => line.namespace === 'Eclectyc')).toBe(true);
    expect(
      Object.fromEntries(
        [
          'MonitorRun',
          'UsagePercent',
          'EffectiveLimit',
          'KilledSessions',
          'KillFailures',
          'IdleSessions',
          'SleepingSessions',
          'ActiveSessions',
          'ImportQueueDepth',
          'ImportStuckJobs',
          'ImportFailureRate24h',
        ].map((name) => [name, metricValue(emf, name, DIMENSIONS)]),
      ),
    ).toEqual({
      MonitorRun: 1,
      UsagePercent: 50,
      EffectiveLimit: LIMIT,
      KilledSessions: 2,
      KillFailures: 0,
      IdleSessions: 2,
      SleepingSessions: 2,
      ActiveSessions: 0,
      ImportQueueDepth: 0,
      ImportStuckJobs: 0,
      ImportFailureRate24h: 0,
    });
    expect(metricValue(emf, 'UsagePercent', { ...DIMENSIONS, user: testDb.user })).toBe(50);
    const units = Object.fromEntries(
      emf.flatMap((line) => Object.entries(line.metrics).map(([name, metric]) => [name, metric.unit])),
    );
    expect(units).toMatchObject({
      UsagePercent: 'Percent',
      MonitorRun: 'Count',
      ImportFailureRate24h: 'Percent',
    });
  });

  it('stores its counters and publishes what moved by its next run: AbortedConnects, MaxUsedConnections', async () => {
    await testDb.admin.query(`DELETE FROM \`${testDb.name}\`.monitor_counters`);
    const handler = handlerWith();
    const first = await captureEmf(() => handler({}, fakeContext()));
    expect(first.error).toBeUndefined();
    // The first run of a fresh schema has nothing to compare with: no delta, only the peak.
    expect(metricValue(first.emf, 'AbortedConnects', DIMENSIONS)).toBeUndefined();
    expect(metricValue(first.emf, 'MaxUsedConnections', DIMENSIONS)).toEqual(expect.any(Number));
    const holders = await testDb.openAppSessions(LIMIT);
    const refused = await pool.open(app()).catch((error: unknown) => error);
    await Promise.all(holders.map((holder) => holder.end()));
    expect(refused).toMatchObject({ errno: 1226 });

    const second = await captureEmf(() => handler({}, fakeContext()));

    expect(second.result?.counters?.abortedConnects.basis).toBe('since-last-run');
    expect(metricValue(second.emf, 'AbortedConnects', DIMENSIONS)).toBeGreaterThanOrEqual(1);
    expect(metricValue(second.emf, 'ConnectionErrorsMaxConnections', DIMENSIONS)).toEqual(expect.any(Number));
    expect(metricValue(second.emf, 'KillsLeft', DIMENSIONS)).toBe(0);
    expect(metricValue(second.emf, 'StoppedStatements', DIMENSIONS)).toBe(0);
  });

  it('still connects as its own user while the app user is at its limit, and reports warning', async () => {
    await pool.openMany(LIMIT, app());
    await expect(createConnection({ ...ADMIN_CONNECTION, ...app() })).rejects.toMatchObject({ errno: 1226 });
    // The refused attempt lingers in the processlist for a moment; wait until only the holders remain.
    expect(await testDb.waitForSessions(LIMIT)).toBe(LIMIT);
    const handler = handlerWith({ KILL_IDLE: 'false' });

    const { result: report, error, emf } = await captureEmf(() => handler({}, fakeContext()));

    expect(error).toBeUndefined();
    expect(report).toMatchObject({ level: 'warning', dryRun: true, idleThresholdSeconds: 60 });
    expect(report?.users[0]).toMatchObject({ total: LIMIT, effectiveLimit: LIMIT, usagePercent: 100 });
    expect(metricValue(emf, 'UsagePercent', DIMENSIONS)).toBe(100);
    expect(metricValue(emf, 'MonitorRun', DIMENSIONS)).toBe(1);
  });

  it('reports a budget shortfall when the live limit is below what the stage assumes', async () => {
    // The stage budgets api 10 + processImports 1 against 30; the live app user allows only LIMIT (4).
    const handler = handlerWith({
      BUDGET_DB_MAX_USER_CONNECTIONS: '30',
      BUDGET_APP_USER_CONCURRENCY: '10,1',
      BUDGET_HEADROOM: '2',
    });
    const { result: report, error, emf } = await captureEmf(() => handler({}, fakeContext()));
    expect(error).toBeUndefined();
    expect(report?.users[0]?.effectiveLimit).toBe(LIMIT);
    expect(metricValue(emf, 'BudgetShortfall', DIMENSIONS)).toBe(10 + 1 + 2 - LIMIT);
  });

  it('reports no budget shortfall when the live limit covers the budget', async () => {
    const handler = handlerWith({
      BUDGET_DB_MAX_USER_CONNECTIONS: String(LIMIT),
      BUDGET_APP_USER_CONCURRENCY: '1,1',
      BUDGET_HEADROOM: '2',
    });
    const { error, emf } = await captureEmf(() => handler({}, fakeContext()));
    expect(error).toBeUndefined();
    expect(metricValue(emf, 'BudgetShortfall', DIMENSIONS)).toBe(0);
  });

  it('does not count its own session when it targets its own user', async () => {
    const handler = handlerWith({
      MONITOR_TARGET_USERS: monitorUser.user,
      KILL_IDLE: 'true',
      MAX_IDLE_SECONDS: '1',
    });
    const { result: report } = await captureEmf(() => handler({}, fakeContext()));
    expect(report?.users).toEqual([expect.objectContaining({ user: monitorUser.user, total: 0 })]);
    expect(report?.kills).toEqual([]);
  });

  it('fails fast with a ConfigError naming MONITOR_DB_SECRET_ID when no monitor login is configured', async () => {
    const handler = createMonitorHandler(testDb.config());
    const { error, emf } = await captureEmf(() => handler({}, fakeContext()));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ variable: 'MONITOR_DB_SECRET_ID' });
    expect(emf).toEqual([]);
  });

  it('fails with a DatabaseError, emits no MonitorRun and leaves no session when its login is refused', async () => {
    const handler = handlerWith({ MONITOR_DB_PASSWORD: 'wrong' });
    const { error, emf } = await captureEmf(() => handler({}, fakeContext()));
    expect(error).toMatchObject({ name: 'DatabaseError', errno: 1045 });
    expect(emf.filter((line) => 'MonitorRun' in line.metrics)).toEqual([]);
  });
});
