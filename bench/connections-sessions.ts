// Counts a MySQL user's sessions from a root connection, as an operator would see them: now, at the
// peak of a workload (sampled), and after it. Also ends what a client left behind between workloads.

import type { Connection, RowDataPacket } from 'mysql2/promise';

import { HELD_SESSIONS_SQL } from '../test/helpers/database.js';

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

/** Polls the processlist every `intervalMs` until stopped; `stop` resolves to the highest count seen. */
export function samplePeakSessions(
  admin: Connection,
  user: string,
  intervalMs = 2,
): { stop(): Promise<number> } {
  let running = true;
  let peak = 0;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await heldSessions(admin, user));
      await sleep(intervalMs);
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
