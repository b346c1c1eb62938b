// Interleaved flags: a wide file may follow each value column with a flag column (`HH01,Type,HH02,
// Type,…` or `00:00,00:00 Flag,…`) whose A/E applies to the value before it. Finds those columns.

import type { HeaderScan } from './headers.js';

/** Headers a flag column may carry on its own. */
const FLAG_HEADERS: ReadonlySet<string> = new Set([
  'type',
  'flag',
  'status',
  'ae',
  'readtype',
  'readingtype',
  'actualestimated',
  'estimated',
  'quality',
]);
/** Or the value column's own header followed by one of these (`HH01 Flag`, `00:30 Type`). */
const FLAG_SUFFIXES: readonly string[] = ['flag', 'type', 'status', 'ae'];

function isFlagHeader(scan: HeaderScan, flagIndex: number, valueIndex: number): boolean {
  const header = scan.normalised[flagIndex];
  if (header === undefined) return false;
  if (FLAG_HEADERS.has(header)) return true;
  const valueHeader = scan.normalised[valueIndex] ?? '';
  return FLAG_SUFFIXES.some((suffix) => header === `${valueHeader}${suffix}`);
}

export type FlagColumns =
  | { readonly kind: 'none' }
  /** Value column index → its flag column index. */
  | { readonly kind: 'interleaved'; readonly flagOf: ReadonlyMap<number, number> }
  | { readonly kind: 'mixed'; readonly reason: string };

/**
 * Flags are all or nothing: either every value column is followed by a flag column, or none is. Some
 * (two or more) with and some without is refused, since a value could then take the wrong flag.
 */
export function findFlagColumns(scan: HeaderScan, valueColumns: readonly number[]): FlagColumns {
  const flagOf = new Map<number, number>();
  for (const index of valueColumns) {
    if (isFlagHeader(scan, index + 1, index)) flagOf.set(index, index + 1);
  }
  // One flag-like column after the last value is the row's own type column (`HH48,Status`), not flags.
  if (flagOf.size === 0 || (flagOf.size === 1 && valueColumns.length > 1)) return { kind: 'none' };
  if (flagOf.size === valueColumns.length) return { kind: 'interleaved', flagOf };
  const without = valueColumns.find((index) => !flagOf.has(index));
  const header = without === undefined ? '' : (scan.raw[without] ?? '').trim();
  return {
    kind: 'mixed',
    reason: `${flagOf.size} of ${valueColumns.length} value columns have a flag column after them, but ${header} has none`,
  };
}
