// The counters between runs for one monitor run: reads the server's counters, compares them with the
// values the previous run stored in monitor_counters, and (the Lambda only) stores the new ones. A
// missing table or grant costs the deltas, never the run: see docs/design.md#counters-between-runs.

import type { Db } from '../db.js';
import { AppError, isConnectionGone, isDriverError } from '../errors.js';
import {
  type CounterReading,
  counterDelta,
  type ServerCounters,
  userConnectionsCounter,
} from './counters.js';
import {
  readAccountTotals,
  readStatusCounters,
  readStoredCounters,
  type StatusReading,
  storeCounters,
} from './counters-repository.js';
import type { AuditLog } from './kill-sessions.js';

export type CounterOptions = {
  /** The app's schema, where monitor_counters lives; undefined: no deltas. */
  readonly schema: string | undefined;
  readonly targetUsers: readonly string[];
  /** performance_schema is on: performance_schema.accounts may hold per-user totals. */
  readonly performanceSchema: boolean;
  /** True for the scheduled Lambda; the CLI only compares, so the Lambda's series stays whole. */
  readonly record: boolean;
  readonly now: Date;
  readonly log: AuditLog;
};

/** Errors meaning "not there or not allowed": degrade to no deltas (or no per-user totals). */
const UNREADABLE_ERRNOS: ReadonlySet<number> = new Set([1044, 1049, 1142, 1143, 1146]);

export async function readServerCounters(
  db: Db,
  options: CounterOptions,
): Promise<{ counters: ServerCounters | null; note: string | null }> {
  let status: StatusReading;
  try {
    status = await readStatusCounters(db);
  } catch (error) {
    // A server that keeps its status elsewhere (or not at all) costs the counters, never the run.
    if (isConnectionGone(error) || !(isDriverError(error) || error instanceof AppError)) throw error;
    const reason = isDriverError(error) ? (error.code ?? `errno ${error.errno}`) : error.message;
    options.log.warn('server counters skipped: SHOW GLOBAL STATUS did not answer as expected', { reason });
    return { counters: null, note: `server counters not read (${reason.slice(0, 80)})` };
  }
  const totals = options.performanceSchema
    ? await unlessUnreadable(() => readAccountTotals(db, options.targetUsers))
    : { value: null, code: null };
  const userReadings: CounterReading[] =
    totals.value === null
      ? []
      : options.targetUsers.map((user) => ({
          name: userConnectionsCounter(user),
          value: totals.value?.get(user) ?? 0,
          serverKey: status.serverKey,
          uptimeSeconds: status.uptimeSeconds,
        }));
  const stored =
    options.schema === undefined
      ? { value: null, code: 'not configured' }
      : await unlessUnreadable(() => readStoredCounters(db, options.schema ?? ''));
  const previous = (name: string) => stored.value?.get(name);
  const delta = (reading: CounterReading | undefined, name: string) =>
    reading === undefined
      ? { name, value: 0, delta: null, basis: 'first-reading' as const }
      : stored.value === null
        ? { name, value: reading.value, delta: null, basis: 'first-reading' as const }
        : counterDelta(previous(reading.name), reading);
  const byName = new Map(status.counters.map((reading) => [reading.name, reading]));
  let note = stored.value === null ? `monitor_counters not read (${stored.code})` : null;
  if (options.record && stored.value !== null && options.schema !== undefined) {
    const written = await unlessUnreadable(() =>
      storeCounters(db, options.schema ?? '', [...status.counters, ...userReadings], options.now),
    );
    if (written.code !== null) note = `monitor_counters not written (${written.code})`;
  }
  if (note !== null && options.schema !== undefined) {
    options.log.warn('counter deltas skipped: the monitor cannot use monitor_counters', { reason: note });
  }
  return {
    counters: {
      serverKey: status.serverKey,
      uptimeSeconds: status.uptimeSeconds,
      abortedConnects: delta(byName.get('Aborted_connects'), 'Aborted_connects'),
      connectionErrorsMaxConnections: delta(
        byName.get('Connection_errors_max_connections'),
        'Connection_errors_max_connections',
      ),
      maxUsedConnections: status.maxUsedConnections,
      userConnections:
        totals.value === null
          ? null
          : userReadings.map((reading, i) => ({
              ...delta(reading, reading.name),
              user: options.targetUsers[i] ?? '',
            })),
    },
    note,
  };
}

async function unlessUnreadable<T>(
  read: () => Promise<T>,
): Promise<{ value: T | null; code: string | null }> {
  try {
    return { value: await read(), code: null };
  } catch (error) {
    if (!isDriverError(error) || error.errno === undefined || !UNREADABLE_ERRNOS.has(error.errno))
      throw error;
    return { value: null, code: error.code ?? `errno ${error.errno}` };
  }
}
