// Header scanning shared by the layouts: normalised names, the alias lists, the meter column (an MPAN
// preferred over a serial number beside it), and the basis a date-time header states (`Date (UTC)`).

import { type ColumnMapping, describeHeader, normaliseHeader, READING_HEADER_ALIASES } from '../formats.js';

/** Meter aliases that name the supply; preferred over a meter serial in the same file. */
const SUPPLY_ALIASES: readonly string[] = READING_HEADER_ALIASES.meter.filter(
  (alias) => !alias.includes('serial'),
);
const SERIAL_ALIASES: readonly string[] = READING_HEADER_ALIASES.meter.filter((alias) =>
  alias.includes('serial'),
);

export const DATE_ALIASES: readonly string[] = [
  ...READING_HEADER_ALIASES.date,
  'settdate',
  'settlementdate',
  'consumptiondate',
];
export const TIME_ALIASES: readonly string[] = READING_HEADER_ALIASES.time;
export const DATETIME_ALIASES: readonly string[] = READING_HEADER_ALIASES.datetime;
export const VALUE_ALIASES: readonly string[] = [...READING_HEADER_ALIASES.value, 'meterread'];
export const UNIT_ALIASES: readonly string[] = READING_HEADER_ALIASES.unit;
export const TYPE_ALIASES: readonly string[] = READING_HEADER_ALIASES.readingType;
export const PERIOD_ALIASES: readonly string[] = [
  'settperiod',
  'settlementperiod',
  'period',
  'periodnumber',
  'hhperiod',
];

export type HeaderScan = {
  readonly raw: readonly string[];
  readonly normalised: readonly string[];
};

export function scanHeaders(headers: readonly string[]): HeaderScan {
  return { raw: headers, normalised: headers.map(normaliseHeader) };
}

/** The first column (in file order) whose normalised header is one of `aliases`, not in `exclude`. */
export function findColumn(
  scan: HeaderScan,
  aliases: readonly string[],
  exclude: ReadonlySet<number> = new Set(),
): number | null {
  for (let i = 0; i < scan.normalised.length; i++) {
    const header = scan.normalised[i];
    if (header !== undefined && aliases.includes(header) && !exclude.has(i)) return i;
  }
  return null;
}

/** The meter column: the first supply alias (MPAN, MPRN, meter code…), else the first serial column. */
export function findMeterColumn(scan: HeaderScan): number | null {
  return findColumn(scan, SUPPLY_ALIASES) ?? findColumn(scan, SERIAL_ALIASES);
}

/** What zone-less date-times in a column mean: the header may say (`Date (UTC)`, `Date (Local)`). */
export type TimeBasis = 'utc' | 'local';

const BASIS_SUFFIXES: ReadonlyArray<readonly [string, TimeBasis]> = [
  ['utc', 'utc'],
  ['gmt', 'utc'],
  ['local', 'local'],
];

/** Like findColumn, but also matches an alias followed by a basis (`readdatetimeutc`, `datelocal`). */
export function findColumnWithBasis(
  scan: HeaderScan,
  aliases: readonly string[],
): { index: number; basis: TimeBasis | null } | null {
  for (let i = 0; i < scan.normalised.length; i++) {
    const header = scan.normalised[i] ?? '';
    if (aliases.includes(header)) return { index: i, basis: null };
    for (const [suffix, basis] of BASIS_SUFFIXES) {
      if (header.endsWith(suffix) && aliases.includes(header.slice(0, -suffix.length))) {
        return { index: i, basis };
      }
    }
  }
  return null;
}

/** Summary `meta.column_mapping` from field → column index (null fields left out). */
export function columnMappingOf(
  scan: HeaderScan,
  entries: Readonly<Record<string, number | null>>,
): ColumnMapping {
  const result: ColumnMapping = {};
  for (const [field, index] of Object.entries(entries)) {
    const header = index === null ? undefined : scan.raw[index];
    if (header !== undefined) result[field] = describeHeader(header);
  }
  return result;
}

/** A value column named after a unit carries that unit when the unit cell is empty (or absent). */
export function unitOfValueHeader(scan: HeaderScan, valueColumn: number | null): 'Wh' | 'kWh' {
  return valueColumn !== null && scan.normalised[valueColumn] === 'wh' ? 'Wh' : 'kWh';
}
