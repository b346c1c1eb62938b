// The CI-sized soak: about 1,000 withConnection invocations mixing successes, SQL errors and thrown
// errors at random concurrency (1–30) against an app user limited to 10 connections. `npm run soak`
// runs the full 10,000; here the memory figures (after a forced GC) are only printed, not asserted.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareSoakTable, runSoak } from '../../bench/soak-workload.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const LIMIT = 10;
const INVOCATIONS = 1000;
const SEED = 20_241_109;

let testDb: TestDatabase;

/** The test worker runs without --expose-gc; this turns the flag on and returns gc() from a fresh context. */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('gc() is not available');
  return () => gc();
}

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: LIMIT });
  await prepareSoakTable(testDb.admin, testDb.name);
});

afterAll(async () => {
  await testDb?.drop();
});

describe('soak', () => {
  it('ends every session, never passes the limit, and gives each invocation the outcome its kind must give', async () => {
    const report = await runSoak({
      db: testDb.config().db,
      invocations: INVOCATIONS,
      maxConcurrency: 30,
      admin: testDb.admin,
      user: testDb.user,
      seed: SEED,
      gc: exposedGc(),
    });
    console.log(
      `soak: ${report.invocations} invocations in ${report.waves} waves, ${(report.wallMs / 1000).toFixed(1)} s; ` +
        `outcomes ${JSON.stringify(report.outcomes)}; peak ${report.peakSessions} sessions; ` +
        `heap ${report.memoryStart.heapUsedMb} → ${report.memoryEnd.heapUsedMb} MB, ` +
        `RSS ${report.memoryStart.rssMb} → ${report.memoryEnd.rssMb} MB (GC forced: ${report.gcForced})`,
    );

    expect(report.invocations).toBe(INVOCATIONS);
    expect(report.unexpected).toEqual([]);
    expect(report.sessionsAfter).toBe(0);
    expect(report.peakSessions).toBeGreaterThan(1);
    expect(report.peakSessions).toBeLessThanOrEqual(LIMIT);
    // Every kind of outcome occurred, so the mix really was exercised.
    expect(Object.keys(report.outcomes).sort()).toEqual(
      expect.arrayContaining([
        'DatabaseError ER_DUP_ENTRY',
        'DatabaseError ER_NO_SUCH_TABLE',
        'DatabaseError ER_PARSE_ERROR',
        'SoakWorkError',
        'ok',
      ]),
    );
    expect(await testDb.waitForSessions(0)).toBe(0);
  });
});
