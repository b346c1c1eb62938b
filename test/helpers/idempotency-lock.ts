// Holds an Idempotency-Key's unique-index entry locked from a root session, as a request that has
// inserted its job but not committed yet does, so tests can line up concurrent requests behind it.

import { createHash, randomUUID } from 'node:crypto';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { ADMIN_CONNECTION, type TestDatabase } from './database.js';

/** How long an insert must have run to count as waiting for the lock. */
const WAITING_MS = 300;

type HeldKey = {
  /** Polls until `count` of the app user's inserts wait for the key's lock; throws after `timeoutMs`. */
  waitForWaiters(count: number, timeoutMs?: number): Promise<void>;
  /** Rolls the held insert back (the key is free again) and ends the root session. */
  release(): Promise<void>;
};

async function holdIdempotencyKey(testDb: TestDatabase, key: string): Promise<HeldKey> {
  const holder = await createConnection({ ...ADMIN_CONNECTION, database: testDb.name });
  await holder.beginTransaction();
  await holder.query(
    `INSERT INTO import_jobs (batch_id, filename, import_type, status, idempotency_key, queued_at)
     VALUES (?, 'held.csv', 'daily', 'queued', ?, NOW(3))`,
    [randomUUID(), createHash('sha256').update(key, 'utf8').digest('hex')],
  );
  return {
    async waitForWaiters(count, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const waiting = await lockWaitsOf(testDb);
        if (waiting >= count) return;
        if (Date.now() > until) throw new Error(`${waiting} of ${count} requests wait for the key's lock`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async release() {
      await holder.rollback();
      await holder.end();
    },
  };
}

/**
 * Sends `count` requests with the same key while the key is held, waits until each of them waits for
 * its lock, then rolls the held insert back so they all race for the freed key; returns their responses.
 */
export async function raceBehindHeldKey<T>(
  testDb: TestDatabase,
  key: string,
  count: number,
  send: () => Promise<T>,
): Promise<T[]> {
  const held = await holdIdempotencyKey(testDb, key);
  let released = false;
  try {
    const racing = Promise.all(Array.from({ length: count }, send));
    await held.waitForWaiters(count);
    released = true;
    await held.release();
    return await racing;
  } finally {
    if (!released) await held.release();
  }
}

/**
 * The app user's sessions stuck in an INSERT into import_jobs for a while: waiting for the key's lock
 * (an unblocked insert takes milliseconds). The processlist, not INNODB_TRX: MariaDB 10.11 often
 * leaves these waiting autocommit and fresh transactions out of INNODB_TRX.
 */
async function lockWaitsOf(testDb: TestDatabase): Promise<number> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
      WHERE USER = ? AND COMMAND = 'Query' AND INFO LIKE 'INSERT INTO import_jobs%' AND TIME_MS >= ?`,
    [testDb.user, WAITING_MS],
  );
  return Number(rows[0]?.n);
}
