// The network stalls after the login (a TCP proxy passes the handshake, then holds what follows) and a
// statement waits on a row lock at the deadline: every handler still answers before its deadline, and no
// session outlives the invocation by more than a few seconds; so too when the server itself freezes
// (SIGSTOP) mid-statement. On a disposable MariaDB of its own.

import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMonitorHandler } from '../../functions/monitor.js';
import { createProcessImportsHandler } from '../../functions/process-imports.js';
import { withConnection } from '../../lib/db.js';
import { DeadlineExceededError } from '../../lib/errors.js';
import { AUTH, apiHandler, csvUpload, seedJob } from '../helpers/api.js';
import {
  type DisposableMariaDb,
  type DisposableTestDatabase,
  startDisposableMariaDb,
} from '../helpers/disposable-mariadb.js';
import { httpEvent } from '../helpers/http-events.js';
import { intervalCsv, migrate, queueJob } from '../helpers/import-jobs.js';
import { fakeContext } from '../helpers/lambda.js';
import { captureEmf, createTestUser, monitorGrants, sleep, type TestUser } from '../helpers/monitor.js';
import { type StallingProxy, startStallingProxy } from '../helpers/stalling-proxy.js';

let server: DisposableMariaDb;
let testDb: DisposableTestDatabase;
let monitorUser: TestUser;
let proxy: StallingProxy;

beforeAll(async () => {
  server = await startDisposableMariaDb();
  testDb = await server.createDatabase({ maxUserConnections: 10 });
  await migrate(testDb);
  monitorUser = await createTestUser(
    testDb.admin,
    'mon',
    monitorGrants({ connectionAdmin: true, importSchema: testDb.name }),
  );
}, 60_000);

afterAll(async () => {
  await monitorUser?.drop();
  await testDb?.drop();
  await server?.destroy();
});

beforeEach(async () => {
  proxy = await startStallingProxy(server);
  expect(await testDb.sessionCount()).toBe(0);
});

afterEach(async () => {
  await proxy.close();
  expect(await testDb.waitForSessions(0, 10_000)).toBe(0);
});

/** The app user's config, reaching the server through the proxy. */
function throughProxy(overrides: Record<string, string> = {}): Record<string, string> {
  return { DB_HOST: proxy.host, DB_PORT: String(proxy.port), ...overrides };
}

/** Heals the link and returns how long the server then took to end the app user's sessions. */
async function healAndTimeSessionsGone(): Promise<number> {
  const healedAt = Date.now();
  proxy.heal();
  expect(await testDb.waitForSessions(0, 10_000)).toBe(0);
  return Date.now() - healedAt;
}

async function timed<T>(
  run: () => Promise<T>,
): Promise<{ value: T | undefined; error: unknown; ms: number }> {
  const startedAt = Date.now();
  try {
    const value = await run();
    return { value, error: undefined, ms: Date.now() - startedAt };
  } catch (error) {
    return { value: undefined, error, ms: Date.now() - startedAt };
  }
}

describe('a link that stalls after the login', () => {
  it('bounds the session SET by the deadline: DeadlineExceededError at the deadline, no session after the heal', async () => {
    proxy.stall({ kind: 'client-after-login' });
    const outcome = await timed(() =>
      withConnection(testDb.config(throughProxy()).db, async (db) => db.query('SELECT 1'), {
        invocation: fakeContext(3000),
      }),
    );
    expect(outcome.error).toBeInstanceOf(DeadlineExceededError);
    // The deadline is 3 s minus DB_DEADLINE_MARGIN_MS (1 s).
    expect(outcome.ms).toBeGreaterThanOrEqual(1900);
    expect(outcome.ms).toBeLessThan(2800);
    expect(proxy.loggedInLinks).toBe(1);
    expect(proxy.heldBytes()).toBeGreaterThan(0);
    // The login went through, the SET did not: the server keeps the session while the link is down.
    expect(await testDb.sessionCount()).toBe(1);
    const goneMs = await healAndTimeSessionsGone();
    console.log(
      `stalled SET: DeadlineExceededError after ${outcome.ms} ms; session gone ${goneMs} ms after the heal`,
    );
    expect(goneMs).toBeLessThan(3000);
  });

  it('answers 503 with Retry-After on every API route before the deadline', async () => {
    const batchId = await seedJob(testDb, { status: 'failed' });
    const handler = apiHandler(testDb, throughProxy());
    const requests = {
      health: httpEvent('GET', '/api/health'),
      list: httpEvent('GET', '/api/import/jobs', { headers: AUTH }),
      upload: csvUpload('MPAN,ReadDate,ReadValue\nE1,2024-01-01,1.5\n', { type: 'daily' }),
      show: httpEvent('GET', `/api/import/jobs/${batchId}`, { headers: AUTH }),
      cancel: httpEvent('POST', `/api/import/jobs/${batchId}/cancel`, { headers: AUTH }),
      retry: httpEvent('POST', `/api/import/jobs/${batchId}/retry`, { headers: AUTH }),
    };
    proxy.stall({ kind: 'client-after-login' });
    const answers = await Promise.all(
      Object.entries(requests).map(async ([route, event]) => {
        const { value: response, error, ms } = await timed(() => handler(event, fakeContext(3000)));
        expect(error).toBeUndefined();
        return {
          route,
          status: response?.statusCode,
          retryAfter: response?.headers?.['retry-after'],
          inTime: ms < 2800,
          body: String(response?.body),
        };
      }),
    );
    expect(answers.map(({ body: _body, ...answer }) => answer)).toEqual(
      Object.keys(requests).map((route) => ({ route, status: 503, retryAfter: '5', inTime: true })),
    );
    for (const { body } of answers) {
      expect(body).not.toMatch(/127\.0\.0\.1|SELECT|INSERT|SET SESSION|at .*\.ts/);
    }
    expect(proxy.loggedInLinks).toBe(6);
    const goneMs = await healAndTimeSessionsGone();
    console.log(`stalled API routes: all 503 before the deadline; sessions gone ${goneMs} ms after the heal`);
    expect(goneMs).toBeLessThan(3000);
  });

  it('ends the processor and the monitor handlers before their deadlines', async () => {
    proxy.stall({ kind: 'client-after-login' });
    const processor = createProcessImportsHandler(testDb.config(throughProxy()));
    const monitor = createMonitorHandler(
      testDb.config(
        throughProxy({
          STAGE: 'test',
          MONITOR_DB_USER: monitorUser.user,
          MONITOR_DB_PASSWORD: monitorUser.password,
        }),
      ),
    );
    const [processed, monitored] = await Promise.all([
      timed(() => processor({}, fakeContext(3000))),
      timed(() => captureEmf(() => monitor({}, fakeContext(3000)))),
    ]);
    expect(processed.error).toBeInstanceOf(DeadlineExceededError);
    expect(processed.ms).toBeLessThan(2800);
    expect(monitored.value?.error).toBeInstanceOf(DeadlineExceededError);
    expect(monitored.ms).toBeLessThan(2800);
    await healAndTimeSessionsGone();
    expect(await monitorUser.waitForSessions(0)).toBe(0);
  });

  it('behind RDS Proxy, with no SET to bound, ends a held statement at the deadline: no session after the heal', async () => {
    proxy.stall({ kind: 'client-after-login' });
    const config = testDb.config({
      DB_HOST: '192.0.2.1',
      DB_PROXY_ENDPOINT: `${proxy.host}:${proxy.port}`,
    }).db;
    let statementSent = false;
    const outcome = await timed(() =>
      withConnection(
        config,
        async (db) => {
          statementSent = true;
          return db.query('SELECT 1');
        },
        { invocation: fakeContext(2000) },
      ),
    );
    // The login went through and work began (no SET on this path); the client's own deadline ended it.
    expect(statementSent).toBe(true);
    expect(outcome.error).toBeInstanceOf(DeadlineExceededError);
    // The deadline is 2 s minus DB_DEADLINE_MARGIN_MS (1 s).
    expect(outcome.ms).toBeGreaterThanOrEqual(900);
    expect(outcome.ms).toBeLessThan(1800);
    expect(proxy.loggedInLinks).toBe(1);
    expect(proxy.heldBytes()).toBeGreaterThan(0);
    expect(await testDb.sessionCount()).toBe(1);
    expect(await healAndTimeSessionsGone()).toBeLessThan(3000);
  });

  it('leaves a session the SET never reached to the monitor, whose idle rule kills it', async () => {
    const [[globals]] = await testDb.admin.query<RowDataPacket[]>(
      'SELECT @@global.wait_timeout AS waitTimeout',
    );
    // Without the SET the session lives under the server's own wait_timeout: 8 hours by default.
    expect(Number(globals?.waitTimeout)).toBe(28_800);
    proxy.stall({ kind: 'client-after-login' });
    const outcome = await timed(() =>
      withConnection(testDb.config(throughProxy()).db, async () => 'never', {
        invocation: fakeContext(1500),
      }),
    );
    expect(outcome.error).toBeInstanceOf(DeadlineExceededError);
    // The link never heals: the server still holds the session, idle.
    expect(await testDb.sessionCount()).toBe(1);
    await sleep(3200); // PROCESSLIST.TIME is whole seconds and must exceed MAX_IDLE_SECONDS (2)
    const monitor = createMonitorHandler(
      testDb.config({
        STAGE: 'test',
        MONITOR_DB_USER: monitorUser.user,
        MONITOR_DB_PASSWORD: monitorUser.password,
        KILL_IDLE: 'true',
        MAX_IDLE_SECONDS: '2',
        EMERGENCY_MAX_IDLE_SECONDS: '2',
      }),
    );
    const { result: report, error } = await captureEmf(() => monitor({}, fakeContext()));
    expect(error).toBeUndefined();
    expect(report?.kills).toEqual([expect.objectContaining({ result: 'killed' })]);
    expect(await testDb.waitForSessions(0, 3000)).toBe(0);
    expect(await monitorUser.waitForSessions(0)).toBe(0);
  });
});

describe('an upload whose commit finished after the client gave up', () => {
  it('answers 503 at the deadline, and its Idempotency-Key replays the committed job', async () => {
    const key = `stalled-commit-${Date.now()}`;
    const upload = () =>
      csvUpload(
        'MPAN,ReadDate,ReadValue\nE1,2024-01-01,1.5\n',
        { type: 'daily', filename: `${key}.csv` },
        {
          'idempotency-key': key,
        },
      );
    const handler = apiHandler(testDb, throughProxy());
    // The COMMIT reaches the server; its OK never comes back.
    proxy.stall({ kind: 'replies-after', statement: /^COMMIT/i });
    const first = await timed(() => handler(upload(), fakeContext(3000)));
    expect(first.value?.statusCode).toBe(503);
    expect(first.ms).toBeLessThan(2800);
    const [committed] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT batch_id FROM \`${testDb.name}\`.import_jobs WHERE filename = ?`,
      [`${key}.csv`],
    );
    expect(committed).toHaveLength(1);
    await healAndTimeSessionsGone();

    const replay = await handler(upload(), fakeContext(3000));
    expect(replay.statusCode).toBe(200);
    expect(replay.headers?.['idempotent-replayed']).toBe('true');
    expect(JSON.parse(String(replay.body)).batch_id).toBe(committed[0]?.batch_id);
    const [after] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM \`${testDb.name}\`.import_jobs WHERE filename = ?`,
      [`${key}.csv`],
    );
    expect(Number(after[0]?.n)).toBe(1);
  });
});

describe('a link that stalls once a batch is sent as LOAD DATA', () => {
  it('ends the processor at its deadline with the batch unstored, and no session after the heal', async () => {
    const job = await queueJob(testDb, { type: 'hh', csv: intervalCsv(40, 10).csv });
    // The statement reaches the server, which asks for the batch's text; that request (and every reply
    // after it) is held, so the text is never sent and the statement never ends on its own.
    proxy.stall({ kind: 'replies-after', statement: /LOAD DATA LOCAL INFILE/ });
    const processor = createProcessImportsHandler(
      testDb.config(
        throughProxy({ IMPORT_BATCH_SIZE: '50', IMPORT_STOP_MARGIN_MS: '500', IMPORT_WRITE_MODE: 'load' }),
      ),
    );
    const outcome = await timed(() => processor({}, fakeContext(3000)));
    expect(outcome.error).toBeInstanceOf(DeadlineExceededError);
    expect(outcome.ms).toBeLessThan(2800);
    const goneMs = await healAndTimeSessionsGone();
    console.log(
      `stalled LOAD DATA: DeadlineExceededError after ${outcome.ms} ms; session gone ${goneMs} ms after the heal`,
    );
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT j.checkpoint_row, (SELECT COUNT(*) FROM \`${testDb.name}\`.meter_readings) AS stored
         FROM \`${testDb.name}\`.import_jobs AS j WHERE j.id = ?`,
      [job.id],
    );
    expect(rows[0]).toEqual({ checkpoint_row: 0, stored: 0 });
  });
});

describe('a statement waiting on a row lock at the deadline', () => {
  it('ends on the server within 3 s of the processor’s DeadlineExceededError', async () => {
    const job = await queueJob(testDb, { type: 'hh', csv: intervalCsv(40, 10).csv });
    const locker = await server.connectRoot();
    try {
      const processor = createProcessImportsHandler(
        testDb.config({ IMPORT_BATCH_SIZE: '50', IMPORT_STOP_MARGIN_MS: '500' }),
      );
      const running = timed(() => processor({}, fakeContext(5000)));
      // Once the run has claimed the job, take its row: the next checkpoint UPDATE waits for it.
      await waitFor(async () => (await jobStatus(job.id)) === 'processing', 4000);
      await locker.beginTransaction();
      await locker.query(`SELECT id FROM \`${testDb.name}\`.import_jobs WHERE id = ? FOR UPDATE`, [job.id]);
      await waitFor(async () => (await jobUpdatesWaiting()) > 0, 3000);
      const outcome = await running;
      const failedAt = Date.now();
      expect(outcome.error).toBeInstanceOf(DeadlineExceededError);
      expect(outcome.ms).toBeLessThan(5000);
      expect(await testDb.waitForSessions(0, 10_000)).toBe(0);
      const goneMs = Date.now() - failedAt;
      console.log(
        `lock wait at the deadline: DeadlineExceededError after ${outcome.ms} ms; session gone ${goneMs} ms later`,
      );
      expect(goneMs).toBeLessThan(3000);
    } finally {
      await locker.rollback().catch(() => undefined);
      await locker.end();
    }
  });
});

describe('a server frozen mid-statement (SIGSTOP)', () => {
  it('fails the invocation at its deadline, and the session ends once the server runs again', async () => {
    let frozen = false;
    const outcome = await timed(() =>
      withConnection(
        testDb.config({ DB_DEADLINE_MARGIN_MS: '200' }).db,
        async (db) => {
          const statement = db.query('SELECT SLEEP(0.5)');
          server.freeze();
          frozen = true;
          await statement;
        },
        { invocation: fakeContext(1500) },
      ),
    );
    try {
      expect(frozen).toBe(true);
      expect(outcome.error).toBeInstanceOf(DeadlineExceededError);
      expect(outcome.ms).toBeLessThan(1500);
    } finally {
      server.thaw();
    }
    const thawedAt = Date.now();
    expect(await testDb.waitForSessions(0, 10_000)).toBe(0);
    const goneMs = Date.now() - thawedAt;
    console.log(
      `frozen server: DeadlineExceededError after ${outcome.ms} ms; session gone ${goneMs} ms after the thaw`,
    );
    expect(goneMs).toBeLessThan(3000);
  });
});

async function jobStatus(id: number): Promise<string | undefined> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>(
    `SELECT status FROM \`${testDb.name}\`.import_jobs WHERE id = ?`,
    [id],
  );
  return rows[0]?.status;
}

/** The app user's statements updating import_jobs right now (held by the row lock, they stay). */
async function jobUpdatesWaiting(): Promise<number> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
      WHERE USER = ? AND STATE = 'Updating' AND INFO LIKE 'UPDATE import_jobs%'`,
    [testDb.user],
  );
  return Number(rows[0]?.n);
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(2);
  }
}
