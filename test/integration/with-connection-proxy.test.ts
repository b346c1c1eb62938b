// withConnection in proxy mode (DB_PROXY_ENDPOINT) against the real MariaDB standing in for the proxy:
// the session is left as the target group's InitQuery would have set it, statements with values never
// become prepared statements (they would pin a proxied session), and the session still ends.

import { randomBytes } from 'node:crypto';
import { format, TypedParameter } from 'mysql2';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../lib/db.js';
import { AppError } from '../../lib/errors.js';
import { storeFileChunks } from '../../lib/imports/file-store.js';
import { ADMIN_CONNECTION, createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { fakeContext } from '../helpers/lambda.js';
import { migrate } from '../helpers/schema.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase();
  await migrate(testDb);
});

afterAll(async () => {
  await testDb.drop();
});

/** The app user's config through "the proxy" (the server itself); DB_HOST is a documentation address. */
function proxied(overrides: Record<string, string> = {}) {
  return testDb.config({
    DB_HOST: '192.0.2.1',
    DB_PROXY_ENDPOINT: `${ADMIN_CONNECTION.host}:${ADMIN_CONNECTION.port}`,
    ...overrides,
  }).db;
}

describe('withConnection behind RDS Proxy', () => {
  proveSessionAccounting(() => testDb);

  it('connects to the proxy endpoint, not DB_HOST, and sends no session SET', async () => {
    const [[globals]] = await testDb.admin.query<RowDataPacket[]>(
      'SELECT @@global.wait_timeout AS waitTimeout',
    );
    const session = await withConnection(proxied({ DB_SESSION_WAIT_TIMEOUT_S: '17' }), async (db) => {
      const [rows] = await db.query<RowDataPacket[]>('SELECT @@session.wait_timeout AS waitTimeout');
      const [status] = await db.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Com_set_option'");
      return { waitTimeout: rows[0]?.waitTimeout, setStatements: Number(status[0]?.Value) };
    });
    // The direct path would have set 17; behind the proxy the InitQuery owns the session settings.
    expect(session).toEqual({ waitTimeout: globals?.waitTimeout, setStatements: 0 });
  });

  it("sends no per-invocation statement bounds either (they would pin): the InitQuery's fixed ones stand", async () => {
    const boundsSql = 'SELECT @@innodb_lock_wait_timeout AS lockWait, @@max_statement_time AS statementTime';
    const [[globals]] = await testDb.admin.query<RowDataPacket[]>(boundsSql.replaceAll('@@', '@@global.'));
    const seen = await withConnection(
      proxied(),
      async (db) => {
        const [rows] = await db.query<RowDataPacket[]>(boundsSql);
        // Past the direct path's refresh age (500 ms): there the next statement would re-send the bounds.
        await new Promise((resolve) => setTimeout(resolve, 600));
        const [again] = await db.execute<RowDataPacket[]>(boundsSql);
        const [status] = await db.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Com_set_option'");
        return { first: rows[0], again: again[0], setStatements: Number(status[0]?.Value) };
      },
      { invocation: fakeContext(8000) },
    );
    expect(seen).toEqual({ first: globals, again: globals, setStatements: 0 });
  });

  it('runs execute() as a plain query: values escaped client-side, nothing prepared on the server', async () => {
    const result = await withConnection(proxied(), async (db) => {
      const [rows] = await db.execute<RowDataPacket[]>('SELECT ? + 1 AS n, ? AS s', [41, "it's"]);
      const [status] = await db.query<RowDataPacket[]>(
        "SHOW SESSION STATUS WHERE Variable_name IN ('Com_stmt_prepare', 'Com_stmt_execute')",
      );
      return {
        row: rows[0],
        status: Object.fromEntries(status.map((r) => [r.Variable_name, Number(r.Value)])),
      };
    });
    expect(result.row).toEqual({ n: 42, s: "it's" });
    expect(result.status).toEqual({ Com_stmt_prepare: 0, Com_stmt_execute: 0 });
  });

  it('refuses typed execute() parameters, which only a prepared statement can bind', async () => {
    const error = await withConnection(proxied(), (db) =>
      db.execute('SELECT ? AS n', [TypedParameter.LONG(7)]),
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(String((error as Error).message)).toContain('pins the proxy');
  });

  it('stores an in-body upload in INSERTs under the 16 KB that pins a proxied session', async () => {
    const gzipped = randomBytes(100_000);
    const storedVia = async (config: ReturnType<typeof proxied>) => {
      const [job] = await testDb.admin.query<ResultSetHeader>(
        `INSERT INTO \`${testDb.name}\`.import_jobs (batch_id, filename, import_type) VALUES (UUID(), 'f.csv', 'daily')`,
      );
      await withConnection(config, (db) => storeFileChunks(db, job.insertId, gzipped));
      const [chunks] = await testDb.admin.query<RowDataPacket[]>(
        `SELECT data FROM \`${testDb.name}\`.import_file_chunks WHERE job_id = ? ORDER BY chunk_no`,
        [job.insertId],
      );
      const data = chunks.map((chunk) => chunk.data as Buffer);
      // The statement's text as the proxy sees it: query() escapes a Buffer as X'<hex>'.
      const sql = 'INSERT INTO import_file_chunks (job_id, chunk_no, data) VALUES (?, ?, ?)';
      const longest = Math.max(
        ...data.map((chunk) => format(sql, [job.insertId, data.length, chunk]).length),
      );
      return { chunks: data.length, longest, intact: Buffer.concat(data).equals(gzipped) };
    };
    const behindProxy = await storedVia(proxied());
    expect(behindProxy.intact).toBe(true);
    expect(behindProxy.longest).toBeLessThanOrEqual(16 * 1024);
    // Straight to the server the chunks stay large (one query each on the processor's side).
    expect(await storedVia(testDb.config().db)).toMatchObject({ chunks: 1, intact: true });
  });

  it('still prepares statements when connecting straight to the server', async () => {
    const prepared = await withConnection(testDb.config().db, async (db) => {
      await db.execute('SELECT ? AS n', [1]);
      const [status] = await db.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'");
      return Number(status[0]?.Value);
    });
    expect(prepared).toBe(1);
  });
});
