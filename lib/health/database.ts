// The database check of GET /api/health: one trivial round trip, timed. Takes the connection it is
// given; opening and ending it is withConnection's job.

import type { Db } from '../db.js';

export type DatabaseCheck = { readonly status: 'up'; readonly roundTripMs: number };

export async function checkDatabase(
  db: Db,
  nowMs: () => number = () => performance.now(),
): Promise<DatabaseCheck> {
  const startedMs = nowMs();
  await db.query('SELECT 1');
  return { status: 'up', roundTripMs: Math.round((nowMs() - startedMs) * 100) / 100 };
}
