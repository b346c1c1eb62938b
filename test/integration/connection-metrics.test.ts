// The functions' own view of a lockout: a burst past the app user's limit makes each invocation that
// was refused publish ConnectionRefusals, and each that gave up ConnectionLimitErrors, as EMF lines
// with the function dimension; an invocation that connected at once publishes nothing extra.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessImportsHandler } from '../../functions/process-imports.js';
import { ConnectionTally } from '../../lib/connection-metrics.js';
import { withConnection } from '../../lib/db.js';
import { ConnectionLimitError } from '../../lib/errors.js';
import { apiHandler, migrate } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { fakeContext } from '../helpers/lambda.js';
import { captureEmf, type EmfRecord, sleep } from '../helpers/monitor.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

const LIMIT = 2;
let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: LIMIT });
  await migrate(testDb);
});

afterAll(async () => {
  await testDb?.drop();
});

proveSessionAccounting(() => testDb);

function total(emf: readonly EmfRecord[], metric: string, functionKey: string): number {
  return emf
    .filter((record) => record.dimensions.function === functionKey && metric in record.metrics)
    .reduce((sum, record) => sum + Number(record.metrics[metric]?.value), 0);
}

describe('refusals as metrics, from the functions', () => {
  it('counts each refused connect and the give-up in the tally withConnection is given', async () => {
    const holders = await testDb.openAppSessions(LIMIT);
    const tally = new ConnectionTally();
    try {
      const error = await withConnection(
        testDb.config({ DB_DEADLINE_MARGIN_MS: '200' }).db,
        async () => 'never',
        {
          invocation: fakeContext(700),
          connectionEvents: tally,
          random: () => 1,
        },
      ).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConnectionLimitError);
      expect((error as ConnectionLimitError).attempts).toBe(tally.refusals);
    } finally {
      await Promise.all(holders.map((holder) => holder.end()));
    }
    expect(tally.refusals).toBeGreaterThan(1);
    expect(tally.limitErrors).toBe(1);
  });

  it('a burst past the limit: 503 callers publish ConnectionLimitErrors, waiters ConnectionRefusals', async () => {
    const handler = apiHandler(testDb, { DB_DEADLINE_MARGIN_MS: '200', STAGE: 'ci' });
    const health = () => httpEvent('GET', '/api/health');
    const holders = await testDb.openAppSessions(LIMIT);
    const { result, emf } = await captureEmf(async () => {
      // Three give up while the limit is held; three more start now and get in once it is released.
      const doomed = Array.from({ length: 3 }, () => handler(health(), fakeContext(700)));
      const doomedResponses = await Promise.all(doomed);
      const waiters = Array.from({ length: 3 }, () => handler(health(), fakeContext(5000)));
      await sleep(150);
      await Promise.all(holders.map((holder) => holder.end()));
      return { doomedResponses, waiterResponses: await Promise.all(waiters) };
    });
    expect(result?.doomedResponses.map((response) => response.statusCode)).toEqual([503, 503, 503]);
    expect(result?.waiterResponses.map((response) => response.statusCode)).toEqual([200, 200, 200]);
    expect(total(emf, 'ConnectionLimitErrors', 'api')).toBe(3);
    // Every invocation was refused at least once before it gave up or got in.
    expect(total(emf, 'ConnectionRefusals', 'api')).toBeGreaterThanOrEqual(6);
    const record = emf.find((line) => 'ConnectionRefusals' in line.metrics);
    expect(record).toMatchObject({
      namespace: 'Eclectyc',
      dimensions: { service: 'eclectyc', stage: 'ci', function: 'api' },
      metrics: { ConnectionRefusals: { unit: 'Count' } },
    });
  });

  it('publishes nothing for an invocation that connected at the first attempt', async () => {
    const handler = apiHandler(testDb);
    const { result, emf } = await captureEmf(() => handler(httpEvent('GET', '/api/health'), fakeContext()));
    expect(result?.statusCode).toBe(200);
    expect(emf).toEqual([]);
  });

  it('the processor publishes its own refusals and give-up with function=processImports', async () => {
    const handler = createProcessImportsHandler(testDb.config({ DB_DEADLINE_MARGIN_MS: '200' }));
    const holders = await testDb.openAppSessions(LIMIT);
    let outcome: Awaited<ReturnType<typeof captureEmf>>;
    try {
      outcome = await captureEmf(() => handler(undefined, fakeContext(600)));
    } finally {
      await Promise.all(holders.map((holder) => holder.end()));
    }
    expect(outcome.error).toBeInstanceOf(ConnectionLimitError);
    expect(total(outcome.emf, 'ConnectionLimitErrors', 'processImports')).toBe(1);
    expect(total(outcome.emf, 'ConnectionRefusals', 'processImports')).toBeGreaterThanOrEqual(1);
    expect(total(outcome.emf, 'ConnectionRefusals', 'api')).toBe(0);
  });
});
