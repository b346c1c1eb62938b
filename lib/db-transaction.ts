// One transaction on the connection it is given: begin, run the work, commit; roll back when the
// work throws or its result says it must not stand. Never opens or ends a connection (lib/db.ts does).

import type { Db } from './db.js';

/**
 * Runs `work` inside a transaction. It commits when `work` resolves and `keep(result)` is true; it
 * rolls back (and returns the result) when `keep` says no, and rolls back and rethrows when `work`
 * throws. A failed ROLLBACK never hides the work's own error.
 */
export async function withTransaction<T>(
  db: Pick<Db, 'beginTransaction' | 'commit' | 'rollback'>,
  work: () => Promise<T>,
  keep: (result: T) => boolean = () => true,
): Promise<T> {
  await db.beginTransaction();
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await db.rollback().catch(() => undefined);
    throw error;
  }
  if (keep(result)) await db.commit();
  else await db.rollback();
  return result;
}
