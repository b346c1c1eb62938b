// The app user is held at its connection limit by other sessions (error 1203 on login): every API route
// that needs the database answers 503 with Retry-After and a JSON body, never 500, and stores nothing.

import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, apiHandler, bodyOf, csvUpload, migrate, seedJob, storedCounts } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { fakeContext } from '../helpers/lambda.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

const LIMIT = 3;
const BUSY = 'Service busy: database connection limit reached, retry later';

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: LIMIT });
  await migrate(testDb);
});

afterAll(async () => {
  await testDb?.drop();
});

// Every handler test proves the connection accounting: 0 app-user sessions before and after it.
proveSessionAccounting(() => testDb);

function holdTheLimit(): Promise<Connection[]> {
  return testDb.openAppSessions(LIMIT);
}

describe('the app user is held at its connection limit', () => {
  it('answers every database route with 503, Retry-After and a JSON body, and health with 503 critical', async () => {
    const queued = await seedJob(testDb);
    const failed = await seedJob(testDb, { status: 'failed' });
    const before = await storedCounts(testDb);
    // A short invocation so the connect retries give up quickly; the margin leaves time to answer.
    const handler = apiHandler(testDb, { DB_DEADLINE_MARGIN_MS: '300' });
    const routes: Array<[string, APIGatewayProxyEventV2]> = [
      ['POST /api/import/jobs', csvUpload('MPAN,Date,Reading\nE06BG12862,09/11/2024,1\n')],
      ['GET /api/import/jobs', httpEvent('GET', '/api/import/jobs', { headers: AUTH })],
      ['GET /api/import/jobs/{id}', httpEvent('GET', `/api/import/jobs/${queued}`, { headers: AUTH })],
      ['POST …/cancel', httpEvent('POST', `/api/import/jobs/${queued}/cancel`, { headers: AUTH })],
      ['POST …/retry', httpEvent('POST', `/api/import/jobs/${failed}/retry`, { headers: AUTH })],
      ['GET /api/health', httpEvent('GET', '/api/health')],
    ];

    const holders = await holdTheLimit();
    let responses: Awaited<ReturnType<typeof handler>>[];
    try {
      expect(await testDb.heldSessionCount()).toBe(LIMIT);
      responses = await Promise.all(routes.map(([, event]) => handler(event, fakeContext(1500))));
    } finally {
      await Promise.all(holders.map((holder) => holder.end()));
    }

    const outcomes = routes.map(([route], i) => {
      const response = responses[i];
      return {
        route,
        statusCode: response?.statusCode,
        retryAfter: response?.headers?.['retry-after'],
        contentType: response?.headers?.['content-type'],
      };
    });
    expect(outcomes).toEqual(
      routes.map(([route]) => ({
        route,
        statusCode: 503,
        retryAfter: expect.stringMatching(/^[1-9]\d*$/),
        contentType: 'application/json; charset=utf-8',
      })),
    );
    for (const [i, [route, event]] of routes.entries()) {
      const body = bodyOf(responses[i] ?? { statusCode: 0, body: '{}' });
      if (route === 'GET /api/health') {
        expect(body).toMatchObject({
          status: 'critical',
          checks: {
            database: { status: 'down', error: 'ConnectionLimitError' },
            import_queue: { status: 'unknown' },
          },
        });
      } else {
        expect(body).toEqual({ error: BUSY, request_id: event.requestContext.requestId });
      }
    }
    expect(await storedCounts(testDb)).toEqual(before);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('serves the same routes again once the other sessions let go', async () => {
    const handler = apiHandler(testDb);
    const listed = await handler(httpEvent('GET', '/api/import/jobs', { headers: AUTH }), fakeContext());
    const missing = await handler(
      httpEvent('GET', `/api/import/jobs/${randomUUID()}`, { headers: AUTH }),
      fakeContext(),
    );
    expect([listed.statusCode, missing.statusCode]).toEqual([200, 404]);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });
});
