// SQL for what an import writes: meters resolved in bulk (created on the fly unless dry run), meter
// readings and sites upserted in multi-row statements. Callers own the transaction and the connection.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Db } from '../db.js';
import { bulkLoadTag } from '../statement-tag.js';
import { DAY_MS, formatUtcSql } from '../time/settlement-calendar.js';
import type { Reading } from './layouts/layout.js';
import type { SiteRow } from './rows.js';
import { meterTypeOf, type ReadingType } from './values.js';

export const AUTO_IMPORT_SITE_NAME = 'Auto-imported Meters';

/** meters.mpan compares case-insensitively (utf8mb4_unicode_ci), so lookups key on the upper case. */
export function meterKey(code: string): string {
  return code.toUpperCase();
}

/** company | lower-cased, space-collapsed name | upper-cased postcode without spaces, hashed. */
export function siteNaturalKey(site: Pick<SiteRow, 'companyId' | 'name' | 'postcode'>): string {
  const name = site.name.trim().replace(/\s+/g, ' ').toLowerCase();
  const postcode = (site.postcode ?? '').replace(/\s+/g, '').toUpperCase();
  return createHash('sha256')
    .update(`${site.companyId ?? ''}|${name}|${postcode}`)
    .digest('hex');
}

/** Looks up meter ids for codes not yet in `known`, adding what it finds to it. */
export async function lookUpMeters(
  db: Db,
  codes: readonly string[],
  known: Map<string, number>,
): Promise<string[]> {
  // Distinct codes first: a batch holds thousands of readings of a few meters.
  const missing = [...new Set(codes)].filter((code) => !known.has(meterKey(code)));
  if (missing.length === 0) return [];
  const [rows] = await db.query<RowDataPacket[]>('SELECT id, mpan FROM meters WHERE mpan IN (?)', [missing]);
  for (const row of rows) known.set(meterKey(String(row.mpan)), Number(row.id));
  return missing.filter((code) => !known.has(meterKey(code)));
}

/** Creates the given meters (a concurrent creator's row wins harmlessly) and records their ids. */
export async function createMeters(
  db: Db,
  codes: readonly string[],
  options: { siteId: number; isHalfHourly: boolean },
  known: Map<string, number>,
): Promise<number> {
  if (codes.length === 0) return 0;
  const [result] = await db.query<ResultSetHeader>(
    'INSERT IGNORE INTO meters (mpan, site_id, meter_type, is_half_hourly) VALUES ?',
    [codes.map((code) => [code, options.siteId, meterTypeOf(code), options.isHalfHourly ? 1 : 0])],
  );
  const stillMissing = await lookUpMeters(db, codes, known);
  if (stillMissing.length > 0) throw new Error(`Meters could not be created: ${stillMissing.length} missing`);
  return result.affectedRows;
}

/** The site unknown meters are attached to, created once. */
export async function ensureAutoImportSite(db: Db): Promise<number> {
  const [result] = await db.query<ResultSetHeader>(
    `INSERT INTO sites (name, natural_key) VALUES (?, ?)
     ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)`,
    [AUTO_IMPORT_SITE_NAME, siteNaturalKey({ companyId: null, name: AUTO_IMPORT_SITE_NAME, postcode: null })],
  );
  return result.insertId;
}

export async function siteExists(db: Db, siteId: number): Promise<boolean> {
  const [rows] = await db.query<RowDataPacket[]>('SELECT 1 FROM sites WHERE id = ?', [siteId]);
  return rows.length > 0;
}

/** The meter_readings columns both write paths fill, in the order readingColumnValues gives them. */
const READING_COLUMN_NAMES = [
  'meter_id',
  'reading_interval',
  'start_utc',
  'settlement_date',
  'period_number',
  'reading_value',
  'reading_type',
  'import_batch_id',
] as const;
const READING_COLUMNS = READING_COLUMN_NAMES.join(', ');

/**
 * What LOAD DATA reads from each line: every column but the last, import_batch_id, which is the same
 * for the whole statement and is set once in it (a 36-character UUID was about 40 % of every line).
 */
const LOADED_COLUMN_NAMES = READING_COLUMN_NAMES.slice(0, -1);
const LOADED_COLUMNS = LOADED_COLUMN_NAMES.join(', ');

type ReadingColumnValues = readonly [
  meterId: number,
  interval: 'hh' | 'daily',
  /** The interval's start, UTC, as a DATETIME literal or its number (see docs/design.md#time-model). */
  startUtc: string | number,
  settlementDate: string | number,
  period: number | null,
  valueKwh: string,
  readingType: ReadingType,
  batchId: string,
];

/**
 * The meter id of a reading's code. A batch holds runs of one meter's readings, so the last code's id
 * answers most calls without upper-casing the code again.
 */
function meterIdLookup(meterIds: ReadonlyMap<string, number>): (code: string) => number {
  let lastCode: string | undefined;
  let lastId = 0;
  return (code) => {
    if (code === lastCode) return lastId;
    const meterId = meterIds.get(meterKey(code));
    // The writer resolves every meter of a batch before writing it; a gap here is a bug, not bad data.
    if (meterId === undefined) throw new Error("A reading's meter was not resolved before the write");
    lastCode = code;
    lastId = meterId;
    return meterId;
  };
}

/** How a write path sends a reading's instant and settlement date. */
type DateValues = {
  instant(utcMs: number): string | number;
  date(date: string): string | number;
};

/** The DATETIME literal and the date's own text: what LOAD DATA reads. */
const TEXT_DATES: DateValues = { instant: formatUtcSql, date: (date) => date };

/**
 * One reading as the values of READING_COLUMNS: the single mapping the INSERT and LOAD DATA paths
 * share, each with its own `dates`.
 */
function readingColumnValues(
  reading: Reading,
  meterIdOf: (code: string) => number,
  batchId: string,
  dates: DateValues,
): ReadingColumnValues {
  return [
    meterIdOf(reading.meterCode),
    reading.period === null ? 'daily' : 'hh',
    dates.instant(reading.startUtcMs),
    dates.date(reading.settlementDate),
    reading.period,
    reading.kwh,
    reading.type,
    batchId,
  ];
}

/** `YYYY-MM-DD` with a four-digit year that does not start with 0: its YYYYMMDD number keeps every digit. */
const DATE_TEXT = /^[1-9]\d{3}-\d{2}-\d{2}$/;

/** 2024-01-31 as the number 20240131, or null for text not of that shape (sent as text instead). */
function dateNumber(date: string): number | null {
  return DATE_TEXT.test(date) ? Number(date.slice(0, 4) + date.slice(5, 7) + date.slice(8, 10)) : null;
}

/**
 * Maps one statement's instants and dates to the numbers upsertReadings sends: YYYYMMDDhhmmss
 * (2024-01-31 23:30:00 → 20240131233000), which the server reads as that DATETIME, and YYYYMMDD; the
 * text instead for a date with no such number. A batch holds a few days among thousands of instants,
 * so each keeps its last day's digits: per call, like meterIdLookup, not in module state.
 */
function numericDates(): DateValues {
  let lastDayNumber = Number.NaN;
  let lastDayDigits: number | null = null;
  let lastDate = '';
  let lastDateValue: number | string = '';
  return {
    instant(utcMs) {
      const dayNumber = Math.floor(utcMs / DAY_MS);
      if (dayNumber !== lastDayNumber) {
        lastDayDigits = dateNumber(formatUtcSql(dayNumber * DAY_MS).slice(0, 10));
        lastDayNumber = dayNumber;
      }
      if (lastDayDigits === null) return formatUtcSql(utcMs);
      const seconds = Math.floor((utcMs - dayNumber * DAY_MS) / 1000);
      const hhmmss =
        Math.floor(seconds / 3600) * 10_000 + Math.floor((seconds % 3600) / 60) * 100 + (seconds % 60);
      return lastDayDigits * 1_000_000 + hhmmss;
    },
    date(date) {
      if (date !== lastDate) {
        lastDate = date;
        lastDateValue = dateNumber(date) ?? date;
      }
      return lastDateValue;
    },
  };
}

/**
 * One multi-row upsert: re-importing a reading updates it (last write wins), so imports are idempotent.
 * The same meter and instant twice in one statement is the same: the later row updates the earlier.
 * Every value is a placeholder; start_utc and settlement_date go as numbers (YYYYMMDDhhmmss, YYYYMMDD),
 * which the server converts cheaper than quoted text (docs/design.md#the-bulk-write-path).
 */
export async function upsertReadings(
  db: Db,
  readings: readonly Reading[],
  meterIds: ReadonlyMap<string, number>,
  batchId: string,
  deadlineEpochMs: number,
): Promise<void> {
  if (readings.length === 0) return;
  const meterIdOf = meterIdLookup(meterIds);
  const dates = numericDates();
  const values = readings.map((reading) => readingColumnValues(reading, meterIdOf, batchId, dates));
  // VALUES() is deprecated in MySQL 8.0.20+ but is the one upsert form both MySQL and MariaDB accept.
  // The tag tells the monitor this bulk write belongs to an invocation with time left (statement-tag.ts).
  await db.query(
    `${bulkLoadTag(deadlineEpochMs)} INSERT INTO meter_readings (${READING_COLUMNS})
     VALUES ?
     ON DUPLICATE KEY UPDATE
       settlement_date = VALUES(settlement_date),
       period_number = VALUES(period_number),
       reading_value = VALUES(reading_value),
       reading_type = VALUES(reading_type),
       import_batch_id = VALUES(import_batch_id)`,
    [values],
  );
}

/** True when the server accepts LOAD DATA LOCAL INFILE (MariaDB's default; MySQL 8 needs local_infile=ON). */
export async function serverAllowsLocalInfile(db: Db): Promise<boolean> {
  const [rows] = await db.query<RowDataPacket[]>('SELECT @@GLOBAL.local_infile AS enabled');
  return Number(rows[0]?.enabled) === 1;
}

/**
 * The same upsert through the server's bulk path: the rows go as a tab-separated stream that only this
 * process produces (never a file path; the client reads nothing from disk). REPLACE gives "last write
 * wins" like the INSERT form. Every field is a validated date, time, number or constant, and one that
 * LOAD DATA could misread refuses the batch (LoadDataText); a data warning rolls the batch back rather
 * than storing a coerced value.
 */
export async function loadReadings(
  db: Db,
  readings: readonly Reading[],
  meterIds: ReadonlyMap<string, number>,
  batchId: string,
  deadlineEpochMs: number,
): Promise<void> {
  if (readings.length === 0) return;
  const meterIdOf = meterIdLookup(meterIds);
  const text = new LoadDataText(readings.length * LOAD_ROW_BYTES_GUESS);
  for (const reading of readings) {
    text.line(readingColumnValues(reading, meterIdOf, batchId, TEXT_DATES), LOADED_COLUMN_NAMES.length);
  }
  const [result] = await db.query<ResultSetHeader>({
    sql: `${bulkLoadTag(deadlineEpochMs)} LOAD DATA LOCAL INFILE 'readings.tsv' REPLACE INTO TABLE meter_readings CHARACTER SET utf8mb4
            FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'
            (${LOADED_COLUMNS}) SET import_batch_id = ?`,
    values: [batchId],
    infileStreamFactory: () => Readable.from([text.bytes()]),
  });
  if (result.warningStatus > 0) {
    throw new Error(`LOAD DATA reported ${result.warningStatus} warning(s); the batch was not stored`);
  }
}

const TAB = 0x09;
const LF = 0x0a;
const BACKSLASH = 0x5c;
const N = 0x4e;
/** Room for a typical line (about 56 bytes without the batch id); the buffer grows when it must. */
const LOAD_ROW_BYTES_GUESS = 72;

/**
 * LOAD DATA's text for one batch, written byte by byte into one buffer: a batch's line strings, joined
 * and then encoded, cost about twice the CPU and left a rope of small strings per line to collect.
 * Every field is printable ASCII from a strict parser (digits, dashes, colons, a dot, fixed words) or
 * a UUID; anything else (a tab or line break that would shift the columns, a backslash LOAD DATA
 * would unescape, a non-ASCII character) refuses the batch rather than being escaped.
 */
export class LoadDataText {
  private buffer: Buffer;
  private length = 0;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  /** One line: the first `count` values, tab-separated, null as LOAD DATA's \\N. */
  line(values: readonly (string | number | null)[], count: number = values.length): void {
    for (let column = 0; column < count; column++) {
      if (column > 0) this.byte(TAB);
      const value = values[column];
      if (value === undefined) throw new Error(`A LOAD DATA line has ${values.length} of ${count} values`);
      if (value === null) {
        this.byte(BACKSLASH);
        this.byte(N);
      } else {
        this.field(typeof value === 'number' ? String(value) : value);
      }
    }
    this.byte(LF);
  }

  private field(value: string): void {
    this.reserve(value.length);
    const buffer = this.buffer;
    let at = this.length;
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code < 0x20 || code > 0x7e || code === BACKSLASH)
        throw new Error('A reading field holds a character LOAD DATA would misread');
      buffer[at++] = code;
    }
    this.length = at;
  }

  private byte(byte: number): void {
    this.reserve(1);
    this.buffer[this.length++] = byte;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

/** Upserts sites on their natural key; returns how many were new. */
export async function upsertSites(db: Db, sites: readonly SiteRow[]): Promise<number> {
  if (sites.length === 0) return 0;
  const values = sites.map((site) => [
    site.companyId,
    site.regionId,
    site.name,
    site.address,
    site.postcode,
    site.siteType,
    site.floorAreaM2,
    site.latitude,
    site.longitude,
    site.isActive ? 1 : 0,
    siteNaturalKey(site),
  ]);
  const [result] = await db.query<ResultSetHeader>(
    `INSERT INTO sites
       (company_id, region_id, name, address, postcode, site_type, floor_area, latitude, longitude, is_active, natural_key)
     VALUES ?
     ON DUPLICATE KEY UPDATE
       region_id = VALUES(region_id),
       name = VALUES(name),
       address = VALUES(address),
       postcode = VALUES(postcode),
       site_type = VALUES(site_type),
       floor_area = VALUES(floor_area),
       latitude = VALUES(latitude),
       longitude = VALUES(longitude),
       is_active = VALUES(is_active)`,
    [values],
  );
  return insertedRowCount(result, sites.length);
}

const INSERT_INFO = /^Records:\s*(\d+)\s+Duplicates:\s*(\d+)/;

/**
 * How many of `rowCount` rows an INSERT … ON DUPLICATE KEY UPDATE inserted. affectedRows cannot
 * tell: mysql2 sets the FOUND_ROWS client flag, so it counts 1 per insert, 2 per changed row and 1
 * per unchanged one. A multi-row statement's info says `Records: R  Duplicates: D` (D = rows that
 * met an existing key, changed or not), so R − D rows were inserted. A one-row statement carries no
 * info; its insertId is 0 when the row met an existing key unchanged, and affectedRows is 2 when it
 * changed one, so a new row is exactly affectedRows 1 with an insertId.
 */
export function insertedRowCount(result: ResultSetHeader, rowCount: number): number {
  const info = INSERT_INFO.exec(result.info ?? '');
  if (info !== null) return Number(info[1]) - Number(info[2]);
  if (rowCount !== 1) throw new Error(`A ${rowCount}-row upsert reported no Records/Duplicates info`);
  return result.affectedRows === 1 && result.insertId !== 0 ? 1 : 0;
}
