// Owns the header rules of the import formats: name normalisation, aliases, which layout a file has,
// and the file-level errors when it has none. Reads header names only, never data rows or databases.

import { AppError } from '../errors.js';
import type { CsvReaderOptions } from './csv-reader.js';
import { CsvFormatError, parseCsvText } from './csv-reader.js';
import type { ImportType } from './job.js';
import type { Unit } from './values.js';
import { truncateForMessage } from './values.js';

export type { ImportType };

export type ImportFormat = ImportLayout['format'];

export type FileFormatErrorCode =
  | 'no-header'
  | 'missing-meter-column'
  | 'missing-date-column'
  | 'missing-hh-columns'
  | 'missing-value-column'
  | 'missing-name-column'
  // The layout registry's (lib/imports/layouts/): no layout fits, more than one does, an unknown
  // `format` name, columns a layout cannot read, a bad `meter` parameter, and a meter named both in
  // the file and the request (named in neither keeps 'missing-meter-column').
  | 'unknown-layout'
  | 'ambiguous-layout'
  | 'unknown-format'
  | 'invalid-columns'
  | 'meter-parameter-invalid'
  | 'meter-parameter-conflict';

/** The header cannot serve the import type: a file-level error that no retry can fix. */
export class FileFormatError extends AppError {
  constructor(
    readonly code: FileFormatErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A file with no records at all, or only blank ones: nothing to take a header from. */
export function noHeaderError(): FileFormatError {
  return new FileFormatError('no-header', 'CSV file is empty or has no header row');
}

/** True for every error that fails a whole file for good (never worth a retry). */
export function isFileFormatError(error: unknown): error is FileFormatError | CsvFormatError {
  return error instanceof FileFormatError || error instanceof CsvFormatError;
}

/** Summary `meta.column_mapping`: field → header text as written (sanitised, truncated). */
export type ColumnMapping = Record<string, string>;

export type ReadingColumns = {
  meter: number;
  unit: number | null;
  readingType: number | null;
};

export type TimestampColumns =
  | { kind: 'datetime'; datetime: number }
  | { kind: 'date-and-time'; date: number; time: number };

export type PeriodColumn = {
  index: number;
  /** 1..48; the period starts at (period − 1) × 30 minutes. */
  period: number;
  /** The header as written, for row error messages. */
  header: string;
};

export type HhIntervalLayout = {
  format: 'hh-interval';
  columns: ReadingColumns & { value: number; timestamp: TimestampColumns };
  /** What an empty unit cell means: the value header's own unit (`Wh`) or kWh. */
  defaultUnit: Unit;
  columnMapping: ColumnMapping;
};

export type HhMatrixLayout = {
  format: 'hh-matrix';
  columns: ReadingColumns & { date: number };
  periodColumns: PeriodColumn[];
  defaultUnit: Unit;
  columnMapping: ColumnMapping;
};

export type DailyLayout = {
  format: 'daily';
  columns: ReadingColumns & { date: number; value: number };
  defaultUnit: Unit;
  columnMapping: ColumnMapping;
};

export type SiteColumns = {
  name: number;
  companyId: number | null;
  regionId: number | null;
  address: number | null;
  postcode: number | null;
  siteType: number | null;
  floorArea: number | null;
  latitude: number | null;
  longitude: number | null;
  isActive: number | null;
};

export type SitesLayout = {
  format: 'sites';
  columns: SiteColumns;
  columnMapping: ColumnMapping;
};

export type ReadingLayout = HhIntervalLayout | HhMatrixLayout | DailyLayout;
export type ImportLayout = ReadingLayout | SitesLayout;

/** Normalised aliases per field (domain rules); a header matches when it equals one of them. */
export const READING_HEADER_ALIASES = {
  meter: [
    'mpan',
    'mpancore',
    'metercode',
    'meter',
    'meterid',
    'meterreference',
    'meterref',
    'meterserial',
    'meterserialnumber',
    'serial',
    'serialnumber',
    'supplynumber',
    'mprn',
  ],
  date: ['date', 'readdate', 'readingdate', 'perioddate', 'billdate', 'insertdate'],
  time: ['time', 'readtime', 'readingtime', 'periodtime'],
  datetime: ['datetime', 'timestamp', 'readdatetime', 'readingdatetime'],
  value: ['reading', 'readvalue', 'value', 'consumption', 'kwh', 'wh', 'usage'],
  unit: ['unit', 'units', 'uom'],
  readingType: ['readingtype', 'type', 'status', 'ae', 'actualestimated', 'estimate'],
} as const satisfies Record<string, readonly string[]>;

export const SITE_HEADER_ALIASES = {
  name: ['name', 'sitename'],
  companyId: ['companyid'],
  regionId: ['regionid'],
  address: ['address'],
  postcode: ['postcode'],
  siteType: ['sitetype'],
  floorArea: ['floorarea'],
  latitude: ['latitude'],
  longitude: ['longitude'],
  isActive: ['isactive'],
} as const satisfies Record<string, readonly string[]>;

const MAX_HEADER_ECHO_CHARS = 40;
const MAX_HEADERS_ECHOED = 30;
const PERIOD_HEADER = /^hh(\d{1,2})$/;

/**
 * Header normalisation: keep ASCII letters and digits only, lower-cased. This also strips a BOM and
 * surrounding space, and avoids Unicode case folding turning odd characters into ASCII letters.
 */
export function normaliseHeader(header: string): string {
  return header.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
}

/** A header fit to echo back: BOM and control characters removed, trimmed, cut to 40 characters. */
export function describeHeader(header: string): string {
  return truncateForMessage(header.trim(), MAX_HEADER_ECHO_CHARS).trim();
}

/** The header list for an error message, bounded however many or long the headers are. */
export function describeHeaders(headers: readonly string[]): string {
  const shown = headers.slice(0, MAX_HEADERS_ECHOED).map(describeHeader).join(', ');
  const hidden = headers.length - MAX_HEADERS_ECHOED;
  return hidden > 0 ? `${shown}, … (${hidden} more)` : shown;
}

function firstMatch(normalised: readonly string[], aliases: readonly string[]): number | null {
  for (let i = 0; i < normalised.length; i++) {
    const header = normalised[i];
    if (header !== undefined && aliases.includes(header)) return i;
  }
  return null;
}

/** HHp columns (`HH01`, `hh1`, `HH 01`), one per period, the first in file order winning. */
export function findPeriodColumns(headers: readonly string[]): PeriodColumn[] {
  const byPeriod = new Map<number, PeriodColumn>();
  headers.forEach((header, index) => {
    const match = PERIOD_HEADER.exec(normaliseHeader(header));
    if (match === null) return;
    const period = Number(match[1]);
    if (period >= 1 && period <= 48 && !byPeriod.has(period)) {
      byPeriod.set(period, { index, period, header: describeHeader(header) });
    }
  });
  return [...byPeriod.values()].sort((a, b) => a.period - b.period);
}

function headerFailure(
  code: FileFormatErrorCode,
  requirement: string,
  headers: readonly string[],
): FileFormatError {
  return new FileFormatError(code, `${requirement}. Headers detected: ${describeHeaders(headers)}`);
}

const METER_REQUIREMENT =
  'CSV must include a column containing the meter identifier (e.g. MPAN or MeterCode)';

function mapping(headers: readonly string[], entries: Record<string, number | null>): ColumnMapping {
  const result: ColumnMapping = {};
  for (const [field, index] of Object.entries(entries)) {
    const header = index === null ? undefined : headers[index];
    if (header !== undefined) result[field] = describeHeader(header);
  }
  return result;
}

/** A value column named after a unit carries that unit when the unit cell is empty (or absent). */
function unitOfValueHeader(normalisedValueHeader: string | undefined): Unit {
  return normalisedValueHeader === 'wh' ? 'Wh' : 'kWh';
}

function detectReadingLayout(importType: 'hh' | 'daily', headers: readonly string[]): ReadingLayout {
  const normalised = headers.map(normaliseHeader);
  const aliases = READING_HEADER_ALIASES;
  const meter = firstMatch(normalised, aliases.meter);
  const date = firstMatch(normalised, aliases.date);
  const time = firstMatch(normalised, aliases.time);
  const datetime = firstMatch(normalised, aliases.datetime);
  const value = firstMatch(normalised, aliases.value);
  const unit = firstMatch(normalised, aliases.unit);
  const readingType = firstMatch(normalised, aliases.readingType);

  if (meter === null) throw headerFailure('missing-meter-column', METER_REQUIREMENT, headers);
  const defaultUnit = unitOfValueHeader(value === null ? undefined : normalised[value]);
  const common = { meter, unit, readingType };

  if (importType === 'daily') {
    // A date-time column can stand in for the date; parseDate accepts midnight date-times.
    const dateColumn = date ?? datetime;
    if (dateColumn === null) {
      throw headerFailure(
        'missing-date-column',
        'CSV must include a date column (e.g. Date or ReadDate)',
        headers,
      );
    }
    if (value === null) {
      throw headerFailure(
        'missing-value-column',
        'CSV must include a reading value column (e.g. Reading, ReadValue or kWh)',
        headers,
      );
    }
    return {
      format: 'daily',
      columns: { ...common, date: dateColumn, value },
      defaultUnit,
      columnMapping: mapping(headers, { meter, date: dateColumn, value, unit, reading_type: readingType }),
    };
  }

  let timestamp: TimestampColumns | null = null;
  if (datetime !== null) timestamp = { kind: 'datetime', datetime };
  else if (date !== null && time !== null) timestamp = { kind: 'date-and-time', date, time };
  if (value !== null && timestamp !== null) {
    return {
      format: 'hh-interval',
      columns: { ...common, value, timestamp },
      defaultUnit,
      columnMapping: mapping(headers, {
        meter,
        datetime: timestamp.kind === 'datetime' ? timestamp.datetime : null,
        date: timestamp.kind === 'date-and-time' ? timestamp.date : null,
        time: timestamp.kind === 'date-and-time' ? timestamp.time : null,
        value,
        unit,
        reading_type: readingType,
      }),
    };
  }

  const periodColumns = findPeriodColumns(headers);
  if (periodColumns.length > 0) {
    if (date === null) {
      throw headerFailure(
        'missing-date-column',
        'CSV must include a date column (e.g. Date) next to HH01..HH48',
        headers,
      );
    }
    const columnMapping = mapping(headers, { meter, date, unit, reading_type: readingType });
    const first = periodColumns[0];
    const last = periodColumns[periodColumns.length - 1];
    if (first !== undefined && last !== undefined) {
      columnMapping.periods = `${first.header}..${last.header} (${periodColumns.length} columns)`;
    }
    return { format: 'hh-matrix', columns: { ...common, date }, periodColumns, defaultUnit, columnMapping };
  }

  if (date === null && datetime === null) {
    throw headerFailure(
      'missing-date-column',
      'CSV must include a date column (e.g. Date) or a date-time column (e.g. ReadDateTime)',
      headers,
    );
  }
  if (value === null && datetime !== null) {
    throw headerFailure(
      'missing-value-column',
      'CSV must include a reading value column (e.g. ReadValue or Reading)',
      headers,
    );
  }
  throw headerFailure(
    'missing-hh-columns',
    'CSV must include half-hourly columns HH01..HH48, or a date-time and a value column (e.g. MPAN,ReadDateTime,ReadValue)',
    headers,
  );
}

function detectSitesLayout(headers: readonly string[]): SitesLayout {
  const normalised = headers.map(normaliseHeader);
  const aliases = SITE_HEADER_ALIASES;
  const name = firstMatch(normalised, aliases.name);
  if (name === null) {
    throw headerFailure(
      'missing-name-column',
      'CSV must include a site name column (name or site_name)',
      headers,
    );
  }
  const columns: SiteColumns = {
    name,
    companyId: firstMatch(normalised, aliases.companyId),
    regionId: firstMatch(normalised, aliases.regionId),
    address: firstMatch(normalised, aliases.address),
    postcode: firstMatch(normalised, aliases.postcode),
    siteType: firstMatch(normalised, aliases.siteType),
    floorArea: firstMatch(normalised, aliases.floorArea),
    latitude: firstMatch(normalised, aliases.latitude),
    longitude: firstMatch(normalised, aliases.longitude),
    isActive: firstMatch(normalised, aliases.isActive),
  };
  return {
    format: 'sites',
    columns,
    columnMapping: mapping(headers, {
      name: columns.name,
      company_id: columns.companyId,
      region_id: columns.regionId,
      address: columns.address,
      postcode: columns.postcode,
      site_type: columns.siteType,
      floor_area: columns.floorArea,
      latitude: columns.latitude,
      longitude: columns.longitude,
      is_active: columns.isActive,
    }),
  };
}

/**
 * The layout of a file from its header row. For `hh`, interval wins when meter, value and a
 * timestamp (date-time, or date and time) are present; otherwise HHnn columns make it a matrix.
 */
export function detectLayout(importType: 'hh' | 'daily', headers: readonly string[]): ReadingLayout;
export function detectLayout(importType: 'sites', headers: readonly string[]): SitesLayout;
export function detectLayout(importType: ImportType, headers: readonly string[]): ImportLayout;
export function detectLayout(importType: ImportType, headers: readonly string[]): ImportLayout {
  if (headers.every((header) => header.trim() === '' || header === '\ufeff')) {
    throw noHeaderError();
  }
  return importType === 'sites' ? detectSitesLayout(headers) : detectReadingLayout(importType, headers);
}

export type HeadOptions = CsvReaderOptions & {
  /**
   * True when `head` is only a prefix of the file, so an unfinished last line is ignored; false when
   * it is the whole file (a one-line file need not end with a line break).
   */
  isTruncated: boolean;
};

/**
 * Upload-time check: from the first bytes or lines of a file, the layout it will be imported with, or
 * a FileFormatError / CsvFormatError to answer with a 4xx before anything is queued.
 */
export function detectLayoutFromHead(
  importType: ImportType,
  head: string | Uint8Array,
  options: HeadOptions,
): ImportLayout {
  const { records } = parseCsvText(head, options);
  const header = records[0];
  if (header === undefined) {
    throw noHeaderError();
  }
  return detectLayout(importType, header.fields);
}
