// The database goes away while an import runs: shut down cleanly, killed outright, or frozen (SIGSTOP)
// mid LOAD DATA. Destructive, so it runs against a disposable MariaDB of its own, never the shared
// server. (A session killed mid-batch on a server that stays up is processor.test.ts's "resumes exactly
// after its connection is killed".)

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Db, withConnection } from '../../lib/db.js';
import { DatabaseError, DeadlineExceededError } from '../../lib/errors.js';
import { type JobOutcome, processImports } from '../../lib/imports/processor.js';
import {
  type DisposableMariaDb,
  type DisposableTestDatabase,
  startDisposableMariaDb,
} from '../helpers/disposable-mariadb.js';
import { intervalCsv, migrate, queueJob, readingLines, readJob } from '../helpers/import-jobs.js';
import { fakeContext } from '../helpers/lambda.js';

const METERS = 20;
const DAYS = 10;
const BATCH_SIZE = 400;
const { csv, readings } = intervalCsv(METERS, DAYS); // 9,600 readings in 24 batches

let server: DisposableMariaDb;
let testDb: DisposableTestDatabase;

beforeAll(async () => {
  server = await startDisposableMariaDb();
  console.log(
    `disposable MariaDB on port ${server.port}: install ${server.timings.installMs} ms, first start ${server.timings.startMs} ms`,
  );
  testDb = await server.createDatabase({ maxUserConnections: 5 });
  await migrate(testDb);
});

afterAll(async () => {
  await testDb?.drop();
  await server?.destroy();
});

beforeEach(async () => {
  for (const table of ['import_jobs', 'meter_readings', 'meters', 'sites']) {
    await testDb.admin.query(`DELETE FROM \`${testDb.name}\`.${table}`);
  }
  expect(await testDb.sessionCount()).toBe(0);
});

/** One processor run over one connection; `onCall` sees each call of the run's clock. */
function runProcessor(onCall: (calls: number) => void = () => undefined): Promise<JobOutcome[]> {
  let calls = 0;
  return withConnection(testDb.config().db, (db) =>
    processImports(db, {
      leaseOwner: randomUUID(),
      batchSize: BATCH_SIZE,
      stopMarginMs: 1000,
      writeMode: 'auto',
      remainingMs: () => {
        calls++;
        onCall(calls);
        return 60_000;
      },
    }),
  );
}

/** The lines readingLines() gives for intervalCsv(METERS, DAYS), computed from its formula. */
/**
 * The dead run's lease outlives it; expires it rather than wait, and checks that the next run takes
 * the job over and completes it with every reading exactly once, leaving no session.
 */
async function expectTakenOverToCompletion(batchId: string): Promise<void> {
  await testDb.admin.query(
    `UPDATE \`${testDb.name}\`.import_jobs SET lease_expires_at = NOW(3) - INTERVAL 1 SECOND WHERE batch_id = ?`,
    [batchId],
  );
  const [resumed] = await runProcessor();
  expect(resumed?.outcome).toBe('completed');
  expect((await readingLines(testDb)).sort()).toEqual(expectedLines());
  expect(await readJob(testDb, batchId)).toMatchObject({
    status: 'completed',
    retry_count: 1,
    processed_rows: readings,
    imported_rows: readings,
    failed_rows: 0,
  });
  expect(await testDb.waitForSessions(0)).toBe(0);
}

function expectedLines(): string[] {
  const lines: string[] = [];
  for (let m = 0; m < METERS; m++) {
    for (let d = 0; d < DAYS; d++) {
      const date = new Date(Date.UTC(2024, 0, 1 + d)).toISOString().slice(0, 10);
      for (let p = 0; p < 48; p++) {
        const time = `${String(Math.floor(p / 2)).padStart(2, '0')}:${p % 2 === 0 ? '00' : '30'}:00`;
        lines.push(
          `E${String(m).padStart(9, '0')} hh ${date} ${time} ${p + 1} ${(m + d + p / 100).toFixed(2)}00 actual`,
        );
      }
    }
  }
  return lines.sort();
}

describe('the database restarts while an import runs', () => {
  it.each([
    ['shuts down cleanly', () => server.stop()],
    ['is killed (SIGKILL)', () => server.crash()],
  ])(
    'fails the run cleanly when the server %s, then the next run completes the job with exactly the expected readings',
    async (_, takeDown) => {
      const job = await queueJob(testDb, { type: 'hh', csv });

      let outage: Promise<number> | undefined;
      const failure = await runProcessor((calls) => {
        // A few batches in: take the server down under the running import, then start it again.
        if (calls === 8) outage = takeDown().then(() => server.start());
      }).catch((caught: unknown) => caught);
      const restartMs = await outage;
      console.log(`disposable MariaDB answered again ${restartMs} ms after being started`);
      await testDb.reconnectAdmin();

      expect(outage).toBeDefined();
      expect(failure).toBeInstanceOf(DatabaseError);
      expect((failure as DatabaseError).code).toMatch(
        /^(PROTOCOL_CONNECTION_LOST|ER_SERVER_SHUTDOWN|ER_CONNECTION_KILLED|ECONNRESET|EPIPE)$/,
      );
      const stranded = await readJob(testDb, job.batchId);
      expect(stranded.status).toBe('processing');
      expect(stranded.checkpoint_row).toBeGreaterThan(0);
      expect(stranded.checkpoint_row).toBeLessThan(readings);
      // Every committed batch survived the outage; the batch in flight left nothing behind.
      expect(await readingLines(testDb)).toHaveLength(stranded.checkpoint_row);
      expect(await testDb.waitForSessions(0)).toBe(0);

      await expectTakenOverToCompletion(job.batchId);
      expect((await readJob(testDb, job.batchId)).total_rows).toBe(readings);
    },
  );
});

/** The disposable server's process id, from the pid file it names. */
async function serverPid(): Promise<number> {
  const [[row]] = await testDb.admin.query<RowDataPacket[]>('SELECT @@pid_file AS pidFile');
  const pid = Number((await readFile(String(row?.pidFile), 'utf8')).trim());
  expect(Number.isSafeInteger(pid) && pid > 0).toBe(true);
  return pid;
}

/**
 * `db` with its `at`-th LOAD DATA frozen mid-statement: the server has taken the statement and asked
 * for the file, and is stopped (SIGSTOP) just before the client sends it.
 */
function freezingLoadData(db: Db, at: number, freeze: () => void): Db {
  let loads = 0;
  const query = (sql: unknown, ...rest: unknown[]) => {
    if (typeof sql === 'object' && sql !== null && String(Reflect.get(sql, 'sql')).includes('LOAD DATA')) {
      loads++;
      if (loads === at) {
        const factory = Reflect.get(sql, 'infileStreamFactory') as () => unknown;
        sql = {
          ...sql,
          infileStreamFactory: () => {
            freeze();
            return factory();
          },
        };
      }
    }
    return (db.query as (...args: unknown[]) => unknown)(sql, ...rest);
  };
  return new Proxy(db, {
    get(target, key) {
      if (key === 'query') return query;
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('the database freezes (SIGSTOP) mid LOAD DATA', () => {
  it('ends the run at its deadline, leaves no session once the server runs again, and the next run completes exactly', async () => {
    const job = await queueJob(testDb, { type: 'hh', csv });
    const pid = await serverPid();
    let frozenAt: number | undefined;
    const freeze = () => {
      frozenAt = Date.now();
      process.kill(pid, 'SIGSTOP');
    };
    const invocation = fakeContext(5000);
    let failure: unknown;
    try {
      failure = await withConnection(
        testDb.config().db,
        (db) =>
          processImports(freezingLoadData(db, 5, freeze), {
            leaseOwner: randomUUID(),
            batchSize: BATCH_SIZE,
            stopMarginMs: 1000,
            writeMode: 'auto',
            remainingMs: () => invocation.getRemainingTimeInMillis(),
          }),
        { invocation },
      ).catch((caught: unknown) => caught);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const endedMs = Date.now();

    // The freeze happened (the 'auto' mode chose LOAD DATA here), and the run did not wait it out.
    expect(frozenAt).toBeDefined();
    expect(failure).toBeInstanceOf(DeadlineExceededError);
    expect(invocation.getRemainingTimeInMillis()).toBeGreaterThan(0);
    console.log(`frozen run ended ${endedMs - (frozenAt ?? endedMs)} ms after the freeze`);
    // The server, running again, finds the socket closed and rolls the frozen batch back.
    expect(await testDb.waitForSessions(0, 10_000)).toBe(0);
    const stranded = await readJob(testDb, job.batchId);
    expect(stranded.status).toBe('processing');
    expect(stranded.checkpoint_row).toBe(4 * BATCH_SIZE);
    expect(await readingLines(testDb)).toHaveLength(stranded.checkpoint_row);

    await expectTakenOverToCompletion(job.batchId);
  });
});
