// Validates GET /api/meters/{meter}/readings: the meter code, the settlement-date range (inclusive, at
// most 366 days), interval, limit and the opaque keyset cursor. Pure; a bad value is a 400 naming it.

import { HttpError } from '../errors.js';
import { parseMeterCode } from '../imports/values.js';
import {
  formatUtcIso,
  PERIOD_MS,
  periodStartUtcMs,
  type SettlementDay,
  settlementDay,
} from '../time/settlement-calendar.js';

export const DEFAULT_READINGS_LIMIT = 1000;
export const MAX_READINGS_LIMIT = 10_000;
export const MAX_RANGE_DAYS = 366;
export const READING_INTERVALS = ['hh', 'daily'] as const;
export type ReadingInterval = (typeof READING_INTERVALS)[number];

export type ReadingsQuery = {
  readonly meterCode: string;
  readonly interval: ReadingInterval;
  readonly from: SettlementDay;
  readonly to: SettlementDay;
  /** [fromUtcMs, toUtcMs): local midnight of `from` up to local midnight after `to`. */
  readonly fromUtcMs: number;
  readonly toUtcMs: number;
  readonly limit: number;
  /** Start (epoch ms) of the last reading of the previous page. */
  readonly afterUtcMs: number | undefined;
};

const MAX_CURSOR_CHARS = 100;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function meterNotFound(): HttpError {
  return new HttpError(404, 'Meter not found');
}

function parseMeterPath(value: string | undefined): string {
  const parsed = parseMeterCode(value ?? '');
  if (!parsed.ok) throw new HttpError(400, `meter: ${parsed.reason}`);
  return parsed.value;
}

function parseSettlementDate(name: 'from' | 'to', value: string | undefined): SettlementDay {
  if (value === undefined || value === '') throw new HttpError(400, `${name} is required (YYYY-MM-DD)`);
  const day = DATE.test(value) ? settlementDay(value) : null;
  if (day === null) {
    throw new HttpError(400, `${name} must be a date YYYY-MM-DD between 1996-01-01 and 2100-12-31`);
  }
  return day;
}

function parseInterval(value: string | undefined): ReadingInterval {
  if (value === undefined || value === '') return 'hh';
  const interval = READING_INTERVALS.find((candidate) => candidate === value);
  if (interval === undefined)
    throw new HttpError(400, `interval must be one of: ${READING_INTERVALS.join(', ')}`);
  return interval;
}

function parseLimit(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_READINGS_LIMIT;
  const limit = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_READINGS_LIMIT)) {
    throw new HttpError(400, `limit must be a whole number from 1 to ${MAX_READINGS_LIMIT}`);
  }
  return limit;
}

/** The opaque cursor: base64url of the last reading's start instant. */
export function encodeReadingsCursor(startUtcMs: number): string {
  return Buffer.from(JSON.stringify({ s: formatUtcIso(startUtcMs) }), 'utf8').toString('base64url');
}

export function decodeReadingsCursor(cursor: string): number {
  const invalid = new HttpError(400, 'Invalid cursor: pass next_cursor from the previous page unchanged');
  if (cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (typeof parsed !== 'object' || parsed === null || !('s' in parsed)) throw invalid;
  const { s } = parsed;
  if (typeof s !== 'string' || !ISO_UTC.test(s)) throw invalid;
  const ms = Date.parse(s);
  if (Number.isNaN(ms) || formatUtcIso(ms) !== s) throw invalid;
  return ms;
}

export function parseReadingsQuery(
  params: Readonly<Record<string, string>>,
  query: Readonly<Record<string, string>>,
): ReadingsQuery {
  const meterCode = parseMeterPath(params.meter);
  const from = parseSettlementDate('from', query.from);
  const to = parseSettlementDate('to', query.to);
  if (from.dayNumber > to.dayNumber) throw new HttpError(400, 'from must not be after to');
  if (to.dayNumber - from.dayNumber + 1 > MAX_RANGE_DAYS) {
    throw new HttpError(400, `The range from..to may span at most ${MAX_RANGE_DAYS} days`);
  }
  return {
    meterCode,
    interval: parseInterval(query.interval),
    from,
    to,
    fromUtcMs: from.midnightUtcMs,
    // The end of `to` without needing the next day (which may lie past 2100-12-31).
    toUtcMs: periodStartUtcMs(to, to.periodCount) + PERIOD_MS,
    limit: parseLimit(query.limit),
    afterUtcMs:
      query.cursor === undefined || query.cursor === '' ? undefined : decodeReadingsCursor(query.cursor),
  };
}
