import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Db, PREPARED_STATEMENT_CACHE, withConnection } from '../../lib/db.js';
import {
  ConnectionLimitError,
  DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS,
  DatabaseError,
  DeadlineExceededError,
} from '../../lib/errors.js';
import { errorResponse } from '../../lib/http.js';
import { logger } from '../../lib/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { fakeContext } from '../helpers/lambda.js';
import { startStallingProxy } from '../helpers/stalling-proxy.js';

const LIMIT = 5;
let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: LIMIT });
});

afterAll(async () => {
  await testDb.drop();
});

describe('withConnection', () => {
  it('returns the work result and leaves no session behind', async () => {
    expect(await testDb.sessionCount()).toBe(0);
    const result = await withConnection(testDb.config().db, async (db) => {
      const [rows] = await db.query<RowDataPacket[]>('SELECT 41 + 1 AS answer');
      return rows[0]?.answer;
    });
    expect(result).toBe(42);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('opens exactly one session while the work runs', async () => {
    const seen = await withConnection(testDb.config().db, async () => testDb.sessionCount());
    expect(seen).toBe(1);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('sets the session wait_timeout, UTC time zone and utf8mb4_unicode_ci', async () => {
    const config = testDb.config({ DB_SESSION_WAIT_TIMEOUT_S: '17' });
    const row = await withConnection(config.db, async (db) => {
      const [rows] = await db.query<RowDataPacket[]>(
        'SELECT @@session.wait_timeout AS waitTimeout, @@session.time_zone AS timeZone, @@collation_connection AS collation',
      );
      return rows[0];
    });
    expect(row).toEqual({ waitTimeout: 17, timeZone: '+00:00', collation: 'utf8mb4_unicode_ci' });
  });

  it('bounds lock waits and statements on the server by the time the invocation has left', async () => {
    const config = testDb.config({ DB_DEADLINE_MARGIN_MS: '1000' });
    const read = async (db: Db) => {
      const [rows] = await db.query<RowDataPacket[]>(
        'SELECT @@session.innodb_lock_wait_timeout AS lockWait, @@session.max_statement_time AS statementTime',
      );
      return { lockWait: Number(rows[0]?.lockWait), statementTime: Number(rows[0]?.statementTime) };
    };
    // 8 s left: deadline in 7 s, plus the 0.5 s grace that lets the client's deadline come first.
    const fresh = await withConnection(config.db, read, { invocation: fakeContext(8000) });
    expect(fresh.lockWait).toBe(8);
    expect(fresh.statementTime).toBeGreaterThan(7.3);
    expect(fresh.statementTime).toBeLessThanOrEqual(7.5);
    // Later statements get the bounds re-sent, shrunk to what is left then.
    const later = await withConnection(
      config.db,
      async (db) => {
        await db.query('SELECT SLEEP(1.2)');
        return read(db);
      },
      { invocation: fakeContext(8000) },
    );
    expect(later.statementTime).toBeGreaterThan(6.0);
    expect(later.statementTime).toBeLessThanOrEqual(6.3);
    expect(later.lockWait).toBe(7);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('leaves the server’s statement limits alone without an invocation deadline (scripts, migrations)', async () => {
    const [[globals]] = await testDb.admin.query<RowDataPacket[]>(
      'SELECT @@global.innodb_lock_wait_timeout AS lockWait, @@global.max_statement_time AS statementTime',
    );
    const session = await withConnection(testDb.config().db, async (db) => {
      const [rows] = await db.query<RowDataPacket[]>(
        'SELECT @@session.innodb_lock_wait_timeout AS lockWait, @@session.max_statement_time AS statementTime',
      );
      return rows[0];
    });
    expect(session).toEqual(globals);
  });

  it('ends a statement on the server soon after the deadline, though the socket was already gone', async () => {
    const config = testDb.config({ DB_DEADLINE_MARGIN_MS: '200' });
    let threadId: number | null = null;
    const error = await withConnection(
      config.db,
      async (db) => {
        threadId = db.threadId;
        // A statement the server does not interrupt for a closed socket on its own (unlike SLEEP).
        await db.query("SELECT BENCHMARK(5000000000, SHA2('x', 512))");
      },
      { invocation: fakeContext(1200) },
    ).catch((caught: unknown) => caught);
    const failedAt = Date.now();
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(threadId).not.toBeNull();
    expect(await testDb.waitForSessions(0, 10_000)).toBe(0);
    expect(Date.now() - failedAt).toBeLessThan(2500);
  });

  it('keeps a small prepared-statement cache and closes what it evicts on the server', async () => {
    const distinct = PREPARED_STATEMENT_CACHE + 8;
    const closed = await withConnection(testDb.config().db, async (db) => {
      for (let i = 0; i < distinct; i++) await db.execute(`SELECT ? + ${i} AS n`, [1]);
      const [rows] = await db.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Com_stmt_close'");
      return Number(rows[0]?.Value);
    });
    expect(closed).toBe(distinct - PREPARED_STATEMENT_CACHE);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('returns only once the server has given the slot back: invocations at the limit are never refused', async () => {
    // Any refusal fails at once: the first retry delay (999 ms) would pass the deadline (500 ms away).
    const config = testDb.config({ DB_CONNECT_RETRY_BASE_MS: '1000', DB_CONNECT_RETRY_CAP_MS: '1000' });
    const invokeBackToBack = async (): Promise<string[]> => {
      const failures: string[] = [];
      for (let i = 0; i < 60; i++) {
        const options = { invocation: fakeContext(1500), random: () => 0.999 };
        await withConnection(config.db, (db) => db.query('SELECT SLEEP(0.02)'), options).catch(
          (error: unknown) => {
            failures.push(error instanceof Error ? error.name : String(error));
          },
        );
      }
      return failures;
    };
    // As many environments as the user's limit, each invoked again as soon as it returns, while an
    // operator reads the processlist (which slows the server's teardown of a quitting session).
    let polling = true;
    const poller = (async () => {
      while (polling) await testDb.sessionCount();
    })();
    const failures = await Promise.all(Array.from({ length: LIMIT }, invokeBackToBack));
    polling = false;
    await poller;
    expect(failures.flat()).toEqual([]);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('treats a session killed mid-work as gone: the fatal error, no cleanup failure, nothing left', async () => {
    const warned = vi.spyOn(logger, 'warn');
    try {
      const outcome = withConnection(testDb.config().db, async (db) => {
        await testDb.admin.query('KILL ?', [db.threadId]);
        await db.query('SELECT 1');
      });
      // Connection lost, or "closed state" if the close was seen first: mysql2 marks both fatal.
      await expect(outcome).rejects.toMatchObject({ fatal: true });
      expect(warned).not.toHaveBeenCalledWith('connection end failed; destroyed it', expect.anything());
      expect(await testDb.waitForSessions(0)).toBe(0);
    } finally {
      warned.mockRestore();
    }
  });

  it('rethrows the error the work throws and ends the session', async () => {
    const failure = new Error('work failed');
    await expect(
      withConnection(testDb.config().db, async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('turns an SQL error into a DatabaseError with code, errno and sqlState but no SQL text', async () => {
    const error = await withConnection(testDb.config().db, async (db) => {
      await db.query("SELECT * FROM no_such_table WHERE secret = 'hunter2'");
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DatabaseError);
    expect(error).toMatchObject({ code: 'ER_NO_SUCH_TABLE', errno: 1146, sqlState: '42S02' });
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain('hunter2');
    expect((error as DatabaseError).cause).not.toHaveProperty('sql');
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('turns a max_statement_time kill (errno 1969, no driver code) into a DatabaseError the API answers 503', async () => {
    const error = await withConnection(testDb.config().db, async (db) => {
      await db.query('SET SESSION max_statement_time = 0.1');
      await db.query("SELECT SLEEP(3), 'hunter2' AS secret FROM (SELECT 1 UNION SELECT 2) AS two");
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DatabaseError);
    expect(error).toMatchObject({ code: undefined, errno: 1969, sqlState: '70100' });
    expect((error as DatabaseError).cause).not.toHaveProperty('sql');
    const response = errorResponse(error, 'req-1969');
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe(String(DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS));
    expect(JSON.parse(response.body ?? '')).toEqual({
      error: 'Service unavailable: the database did not answer in time, retry later',
      request_id: 'req-1969',
    });
    expect(response.body).toBeTypeOf('string');
    expect(response.body).not.toMatch(/hunter2|SELECT|SLEEP/i);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('destroys the connection when the work outlives the invocation deadline', async () => {
    const config = testDb.config({ DB_DEADLINE_MARGIN_MS: '200' });
    const startedAt = Date.now();
    const error = await withConnection(
      config.db,
      async (db) => {
        await db.query('SELECT SLEEP(20)');
      },
      { invocation: fakeContext(1200) },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(Date.now() - startedAt).toBeLessThan(1500);
    // The server notices the closed socket during SLEEP and ends the session.
    expect(await testDb.waitForSessions(0, 15_000)).toBe(0);
  });

  it('bounds a stalled secret fetch by the deadline: DeadlineExceededError, and no connect once it arrives', async () => {
    const server = testDb.config().db;
    const secret = JSON.stringify({
      username: server.user,
      password: server.password,
      host: server.host,
      port: server.port,
      dbname: server.database,
    });
    // Secrets Manager answers only after the invocation's deadline, as a stalled network would let it.
    const late = new Promise<string>((resolve) => setTimeout(() => resolve(secret), 1500));
    const config = testDb.config({ DB_SECRET_ID: 'eclectyc/test/stalled', DB_DEADLINE_MARGIN_MS: '200' });
    let worked = false;
    const startedAt = Date.now();
    const error = await withConnection(
      config.db,
      async () => {
        worked = true;
      },
      { invocation: fakeContext(800), secrets: { getString: () => late, clear: () => undefined } },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(Date.now() - startedAt).toBeLessThan(800);
    await late;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(worked).toBe(false);
    expect(await testDb.sessionCount()).toBe(0);
  });

  it('holds at most the user limit under 50 concurrent invocations and lets no raw driver error escape', async () => {
    const config = testDb.config({ DB_CONNECT_RETRY_BASE_MS: '20', DB_CONNECT_RETRY_CAP_MS: '200' });
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await testDb.heldSessionCount());
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        withConnection(
          config.db,
          async (db) => {
            await db.query('SELECT SLEEP(0.05)');
            return 'ok';
          },
          { invocation: fakeContext(3000) },
        ),
      ),
    );
    sampling = false;
    await sampler;
    const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    for (const failure of failures) expect(failure).toBeInstanceOf(ConnectionLimitError);
    const successes = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
    expect(successes + failures.length).toBe(50);
    expect(successes).toBeGreaterThan(LIMIT);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(LIMIT);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('gives up with ConnectionLimitError before the deadline when the user stays at its limit', async () => {
    const holders = await testDb.openAppSessions(LIMIT);
    try {
      const config = testDb.config({ DB_DEADLINE_MARGIN_MS: '300' });
      const startedAt = Date.now();
      const error = await withConnection(config.db, async () => 'never', {
        invocation: fakeContext(1500),
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConnectionLimitError);
      expect((error as ConnectionLimitError).errno).toBe(1226);
      expect((error as ConnectionLimitError).attempts).toBeGreaterThan(1);
      expect(Date.now() - startedAt).toBeLessThan(1500);
    } finally {
      await Promise.all(holders.map((holder) => holder.end()));
    }
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('blames the limit (ConnectionLimitError) when the time left after refusals runs out mid-handshake', async () => {
    // The first connect reaches the server (held at its limit: 1226); after that refusal the proxy holds
    // every new link's greeting, as a server too busy to answer would. The retry's connect is cut to the time
    // left and times out: that is the limit's doing, not a network fault.
    const holders = await testDb.openAppSessions(LIMIT);
    const server = testDb.config().db;
    const proxy = await startStallingProxy({ host: server.host, port: server.port });
    try {
      const config = testDb.config({
        DB_HOST: proxy.host,
        DB_PORT: String(proxy.port),
        DB_DEADLINE_MARGIN_MS: '200',
      });
      const events: string[] = [];
      const error = await withConnection(config.db, async () => 'never', {
        invocation: fakeContext(1200),
        random: () => 0,
        connectionEvents: {
          refused: (errno) => {
            events.push(`refused ${errno}`);
            proxy.stall({ kind: 'silent' });
          },
          gaveUp: () => events.push('gave up'),
        },
      }).catch((caught: unknown) => caught);
      expect(proxy.links).toBe(2);
      expect(error).toBeInstanceOf(ConnectionLimitError);
      expect((error as ConnectionLimitError).errno).toBe(1226);
      expect(events).toEqual(['refused 1226', 'gave up']);
    } finally {
      await proxy.close();
      await Promise.all(holders.map((holder) => holder.end()));
    }
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('fails with a clear access-denied error on a wrong password and leaves no session', async () => {
    const error = await withConnection(testDb.config({ DB_PASSWORD: 'wrong' }).db, async () => 'never').catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DatabaseError);
    expect(error).toMatchObject({ errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' });
    expect(String((error as Error).message)).toContain('Access denied');
    expect(await testDb.sessionCount()).toBe(0);
  });

  it('fails within connectTimeout when the host accepts TCP but never answers', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const startedAt = Date.now();
      const error = await withConnection(
        testDb.config({ DB_PORT: String(port), DB_CONNECT_TIMEOUT_MS: '500' }).db,
        async () => 'never',
      ).catch((caught: unknown) => caught);
      const elapsedMs = Date.now() - startedAt;
      expect(error).toBeInstanceOf(DatabaseError);
      expect(error).toMatchObject({ code: 'ETIMEDOUT' });
      expect(elapsedMs).toBeGreaterThanOrEqual(450);
      expect(elapsedMs).toBeLessThan(2000);
    } finally {
      silent.close();
    }
  });

  it('has its abandoned session closed by the server within the session wait_timeout', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/abandon-child.ts'], {
      env: {
        ...process.env,
        DB_HOST: '127.0.0.1',
        DB_NAME: testDb.name,
        DB_USER: testDb.user,
        DB_PASSWORD: testDb.password,
        DB_SESSION_WAIT_TIMEOUT_S: '2',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const threadId = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          const match = /thread (\d+)/.exec(chunk.toString());
          if (match) resolve(Number(match[1]));
        });
        child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
      });
      // Freeze the process as Lambda freezes an environment: its socket stays open, `finally` never runs.
      child.kill('SIGSTOP');
      const frozenAt = Date.now();
      expect(await testDb.sessionCount()).toBe(1);
      expect(await testDb.waitForSessions(0, 6000)).toBe(0);
      const closedAfterMs = Date.now() - frozenAt;
      expect(closedAfterMs).toBeLessThan(4000);
      const [rows] = await testDb.admin.query<RowDataPacket[]>(
        'SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?',
        [threadId],
      );
      expect(rows).toHaveLength(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
