// Counts a MySQL user's sessions from a root connection, as an operator would see them: now, at the
// peak of a workload (sampled), and after it. Also ends what a client left behind between workloads.

import type { Connection, RowDataPacket } from 'mysql2/promise';

import { HELD_SESSION_IDS_SQL, HELD_SESSIONS_SQL } from '../test/helpers/database.js';

export async function heldSessions(admin: Connection, user: string): Promise<number> {
  const [rows] = await admin.query<RowDataPacket[]>(HELD_SESSIONS_SQL, [user]);
  return Number(rows[0]?.n);
}

/** Every session the user has in the processlist, whatever its state. */
export async function allSessions(admin: Connection, user: string): Promise<number> {
  const [rows] = await admin.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
    [user],
  );
  return Number(rows[0]?.n);
}

/** The ids of the user's sessions that hold a slot of its limit (see HELD_SESSIONS_SQL). */
async function heldSessionIds(admin: Connection, user: string): Promise<Set<number>> {
  const [rows] = await admin.query<RowDataPacket[]>(HELD_SESSION_IDS_SQL, [user]);
  return new Set(rows.map((row) => Number(row.ID)));
}

/**
 * Polls the processlist every `intervalMs` until stopped; `stop` resolves to the highest number of
 * sessions seen holding a slot in two consecutive reads. One read can over-count: MariaDB lets a new
 * login take the slot of a session that is quitting before that session's row leaves the list or
 * shows as Killed (seen as 11 rows for a limit of 10). The sessions present in both reads were all
 * alive together between them, so their number never exceeds what the server really held.
 */
export function samplePeakSessions(
  admin: Connection,
  user: string,
  intervalMs = 2,
): { stop(): Promise<number> } {
  let running = true;
  let peak = 0;
  const loop = (async () => {
    let previous = await heldSessionIds(admin, user);
    while (running) {
      await sleep(intervalMs);
      const current = await heldSessionIds(admin, user);
      let both = 0;
      for (const id of current) if (previous.has(id)) both++;
      peak = Math.max(peak, both);
      previous = current;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** Kills every session the user still holds and waits until the processlist shows none. */
export async function endAllSessions(admin: Connection, user: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const [rows] = await admin.query<RowDataPacket[]>(
      'SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?',
      [user],
    );
    if (rows.length === 0) return;
    for (const row of rows) await admin.query('KILL ?', [Number(row.ID)]).catch(() => undefined);
    await sleep(20);
  }
  throw new Error(`sessions of ${user} would not go away`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
