import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bodyOf, type Call, caller, migrate, seedJob, utc } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

let testDb: TestDatabase;
let call: Call;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 3 });
  await migrate(testDb);
  // Health needs no token: this handler has none configured at all.
  call = caller(testDb, { API_TOKEN_HASHES: '' });
});

afterAll(async () => {
  await testDb.drop();
});

beforeEach(async () => {
  await testDb.admin.query('DELETE FROM import_jobs');
});

// Every handler test proves the connection accounting: 0 app-user sessions before and after it.
proveSessionAccounting(() => testDb);

async function seedFinished(
  status: 'completed' | 'failed' | 'cancelled',
  count: number,
  age = '1 HOUR',
  errorCode: string | null = null,
) {
  for (let i = 0; i < count; i++) {
    await seedJob(testDb, { status, completed_at: utc(`- INTERVAL ${age}`), error_code: errorCode });
  }
}

async function health() {
  const response = await call(httpEvent('GET', '/api/health'));
  const body = bodyOf(response);
  const checks = body.checks as Record<string, Record<string, unknown>>;
  return { statusCode: response.statusCode, body, queue: checks.import_queue, response };
}

describe('GET /api/health', () => {
  it('answers 200 healthy with the database and an empty queue, without a token', async () => {
    const { statusCode, body } = await health();
    expect(statusCode).toBe(200);
    expect(body).toEqual({
      status: 'healthy',
      checks: {
        database: { status: 'up', round_trip_ms: expect.any(Number) },
        // This request's own session, of the account's MAX_USER_CONNECTIONS 3.
        connections: { status: 'healthy', in_use: 1, limit: 3, usage_percent: 33.3 },
        import_queue: {
          status: 'healthy',
          queued: 0,
          processing: 0,
          stuck: 0,
          failed_last_24h: 0,
          system_failed_last_24h: 0,
          finished_last_24h: 0,
          failure_rate_percent: 0,
          reasons: [],
        },
      },
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    });
  });

  it("reports the app user's connection usage level by the monitor's thresholds, without changing its status", async () => {
    const levels: unknown[] = [];
    for (const held of [1, 2]) {
      const holders = await testDb.openAppSessions(held);
      try {
        const { statusCode, body } = await health();
        expect(statusCode).toBe(200);
        expect(body.status).toBe('healthy');
        levels.push((body.checks as Record<string, unknown>).connections);
      } finally {
        await Promise.all(holders.map((holder) => holder.end()));
      }
      expect(await testDb.waitForSessions(0)).toBe(0);
    }
    // 2 of 3 is above USAGE_CAUTION_PERCENT (60); 3 of 3 above USAGE_WARNING_PERCENT (80).
    expect(levels).toEqual([
      { status: 'caution', in_use: 2, limit: 3, usage_percent: 66.7 },
      { status: 'warning', in_use: 3, limit: 3, usage_percent: 100 },
    ]);
    const stricter = caller(testDb, {
      API_TOKEN_HASHES: '',
      USAGE_CAUTION_PERCENT: '20',
      USAGE_WARNING_PERCENT: '30',
    });
    const body = bodyOf(await stricter(httpEvent('GET', '/api/health')));
    expect((body.checks as Record<string, unknown>).connections).toMatchObject({
      status: 'warning',
      in_use: 1,
    });
  });

  it('counts queued and healthy processing jobs, and a 25 % failure rate is still healthy', async () => {
    await seedJob(testDb, { status: 'queued' });
    await seedJob(testDb, { status: 'queued' });
    await seedJob(testDb, {
      status: 'processing',
      started_at: utc('- INTERVAL 5 MINUTE'),
      lease_owner: 'run-1',
      lease_expires_at: utc('+ INTERVAL 5 MINUTE'),
    });
    await seedFinished('completed', 3);
    await seedFinished('failed', 1);
    await seedFinished('cancelled', 4);
    const { statusCode, queue } = await health();
    expect(statusCode).toBe(200);
    expect(queue).toMatchObject({
      status: 'healthy',
      queued: 2,
      processing: 1,
      stuck: 0,
      failed_last_24h: 1,
      system_failed_last_24h: 1,
      finished_last_24h: 4,
      failure_rate_percent: 25,
    });
  });

  it('answers 207 degraded for a processing job whose lease has expired', async () => {
    await seedJob(testDb, {
      status: 'processing',
      started_at: utc('- INTERVAL 3 MINUTE'),
      lease_owner: 'crashed-run',
      lease_expires_at: utc('- INTERVAL 1 MINUTE'),
    });
    const { statusCode, body, queue } = await health();
    expect(statusCode).toBe(207);
    expect(body.status).toBe('degraded');
    expect(queue).toMatchObject({ status: 'degraded', stuck: 1, reasons: ['1 job(s) stuck in processing'] });
  });

  it('answers 207 degraded for a job processing for more than 60 minutes, lease or not', async () => {
    await seedJob(testDb, {
      status: 'processing',
      started_at: utc('- INTERVAL 61 MINUTE'),
      lease_owner: 'slow-run',
      lease_expires_at: utc('+ INTERVAL 5 MINUTE'),
    });
    const { statusCode, queue } = await health();
    expect(statusCode).toBe(207);
    expect(queue?.stuck).toBe(1);
  });

  it('answers 207 degraded for a failure rate over 25 % (2 of 5)', async () => {
    await seedFinished('completed', 3);
    await seedFinished('failed', 2);
    const { statusCode, queue } = await health();
    expect(statusCode).toBe(207);
    expect(queue).toMatchObject({
      status: 'degraded',
      failure_rate_percent: 40,
      reasons: ['failure rate 40% > 25%'],
    });
  });

  it('answers 503 critical for a failure rate over 50 % (2 of 3)', async () => {
    await seedFinished('completed', 1);
    await seedFinished('failed', 2);
    const { statusCode, body, queue } = await health();
    expect(statusCode).toBe(503);
    expect(body.status).toBe('critical');
    expect(queue).toMatchObject({ status: 'critical', failure_rate_percent: 66.67 });
  });

  it('stays 200 healthy when the failures are files rejected for their content, not the system', async () => {
    await seedFinished('completed', 1);
    await seedFinished('failed', 1, '1 HOUR', 'FORMAT_ERROR');
    await seedFinished('failed', 1, '1 HOUR', 'FORMAT_ERROR');
    await seedFinished('failed', 1, '1 HOUR', 'FORMAT_ERROR');
    await seedFinished('failed', 1, '1 HOUR', 'SITE_NOT_FOUND');
    const { statusCode, queue } = await health();
    expect(statusCode).toBe(200);
    expect(queue).toMatchObject({
      status: 'healthy',
      failed_last_24h: 4,
      system_failed_last_24h: 0,
      finished_last_24h: 5,
      failure_rate_percent: 0,
    });
  });

  it('counts retries exhausted and database errors as system failures: 2 of 5 finished is degraded', async () => {
    await seedFinished('completed', 1);
    await seedFinished('failed', 1, '1 HOUR', 'RETRIES_EXHAUSTED');
    await seedFinished('failed', 1, '1 HOUR', 'DATABASE_ERROR');
    await seedFinished('failed', 2, '1 HOUR', 'FORMAT_ERROR');
    const { statusCode, queue } = await health();
    expect(statusCode).toBe(207);
    expect(queue).toMatchObject({
      status: 'degraded',
      failed_last_24h: 4,
      system_failed_last_24h: 2,
      finished_last_24h: 5,
      failure_rate_percent: 40,
    });
  });

  it('ignores jobs that finished more than 24 hours ago', async () => {
    await seedFinished('failed', 5, '25 HOUR');
    await seedFinished('completed', 1);
    const { statusCode, queue } = await health();
    expect(statusCode).toBe(200);
    expect(queue).toMatchObject({ failed_last_24h: 0, finished_last_24h: 1, failure_rate_percent: 0 });
  });

  it('answers 207 degraded for a queue deeper than 100', async () => {
    await testDb.admin.query(
      `INSERT INTO import_jobs (batch_id, filename, import_type, status)
       SELECT UUID(), 'bulk.csv', 'daily', 'queued' FROM information_schema.COLLATIONS LIMIT 101`,
    );
    const { statusCode, queue } = await health();
    expect(statusCode).toBe(207);
    expect(queue).toMatchObject({ status: 'degraded', queued: 101, reasons: ['queue depth 101 > 100'] });
  });

  it('answers 503 critical, never 500, when the database does not answer', async () => {
    const down = caller(testDb, { DB_PORT: '1', DB_CONNECT_TIMEOUT_MS: '500' });
    const response = await down(httpEvent('GET', '/api/health'));
    expect(response.statusCode).toBe(503);
    expect(bodyOf(response)).toEqual({
      status: 'critical',
      checks: { database: { status: 'down', error: 'ECONNREFUSED' }, import_queue: { status: 'unknown' } },
      timestamp: expect.any(String),
    });
  });

  it('answers 503 critical with the error code when the import tables are missing', async () => {
    const bare = await createTestDatabase({ maxUserConnections: 2 });
    try {
      const response = await caller(bare)(httpEvent('GET', '/api/health'));
      expect(response.statusCode).toBe(503);
      expect(bodyOf(response).checks).toEqual({
        database: { status: 'up', round_trip_ms: expect.any(Number) },
        connections: { status: 'healthy', in_use: 1, limit: 2, usage_percent: 50 },
        import_queue: { status: 'critical', error: 'ER_NO_SUCH_TABLE' },
      });
      expect(await bare.waitForSessions(0)).toBe(0);
    } finally {
      await bare.drop();
    }
  });
});
