import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../functions/api.js';
import { migrate } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { fakeContext } from '../helpers/lambda.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

const LIMIT = 3;
let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: LIMIT });
  // GET /api/health reads the import queue too.
  await migrate(testDb);
});

afterAll(async () => {
  await testDb.drop();
});

// Every handler test proves the connection accounting: 0 app-user sessions before and after it.
proveSessionAccounting(() => testDb);

describe('api handler: GET /api/health', () => {
  it('answers 200 with the database round trip when the database is reachable', async () => {
    const handler = createApiHandler(testDb.config());
    const response = await handler(httpEvent('GET', '/api/health'), fakeContext());
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(String(response.body));
    expect(body.status).toBe('healthy');
    expect(body.checks.database.status).toBe('up');
    expect(body.checks.database.round_trip_ms).toBeGreaterThan(0);
    expect(body.checks.database.round_trip_ms).toBeLessThan(1000);
  });

  it('answers 503 critical when the database does not answer', async () => {
    const handler = createApiHandler(testDb.config({ DB_PORT: '1', DB_CONNECT_TIMEOUT_MS: '500' }));
    const response = await handler(httpEvent('GET', '/api/health'), fakeContext());
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(String(response.body))).toEqual({
      status: 'critical',
      checks: { database: { status: 'down', error: 'ECONNREFUSED' }, import_queue: { status: 'unknown' } },
      timestamp: expect.any(String),
    });
  });

  it('answers 503 with Retry-After, never 500, when the app user is at its connection limit', async () => {
    const holders = await testDb.openAppSessions(LIMIT);
    try {
      const handler = createApiHandler(testDb.config({ DB_DEADLINE_MARGIN_MS: '200' }));
      const response = await handler(httpEvent('GET', '/api/health'), fakeContext(1000));
      expect(response.statusCode).toBe(503);
      expect(response.headers?.['retry-after']).toMatch(/^\d+$/);
      expect(JSON.parse(String(response.body)).checks.database.error).toBe('ConnectionLimitError');
    } finally {
      await Promise.all(holders.map((holder) => holder.end()));
    }
  });

  it('answers 404 with a JSON error for an unknown route, without touching the database', async () => {
    const handler = createApiHandler(testDb.config());
    const response = await handler(httpEvent('GET', '/api/nothing-here'), fakeContext());
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(String(response.body))).toEqual({ error: 'Route not found' });
  });

  it('answers 405 with Allow for a wrong method', async () => {
    const handler = createApiHandler(testDb.config());
    const response = await handler(httpEvent('DELETE', '/api/health'), fakeContext());
    expect(response.statusCode).toBe(405);
    expect(response.headers?.allow).toBe('GET');
  });
});
