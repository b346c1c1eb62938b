// The comment the processor puts in front of its bulk writes, carrying its invocation's deadline, and
// its parser. The monitor reads it from the processlist's Info column (which keeps leading comments on
// MariaDB and MySQL alike) to leave a bulk load alone while the invocation that runs it still has time.
// Pure: see docs/design.md#runaway-statements.

const PREFIX = '/* eclectyc bulk-load deadline_ms=';
const TAG = /^\/\* eclectyc bulk-load deadline_ms=(\d{13}) \*\//;

/** The comment for a statement whose invocation ends at `deadlineEpochMs` (a whole epoch in ms). */
export function bulkLoadTag(deadlineEpochMs: number): string {
  return `${PREFIX}${Math.floor(deadlineEpochMs)} */`;
}

/** The deadline a statement's text carries, or null when it carries none (any other statement). */
export function bulkLoadDeadlineMs(info: string | null): number | null {
  if (info === null) return null;
  const match = TAG.exec(info);
  return match?.[1] === undefined ? null : Number(match[1]);
}
