// The shapes every layout shares: what a layout is, the reading a record becomes, and the error that
// refuses a file whose headers no layout (or more than one) can read. Pure types and one error class.

import type { AmbiguousTimeTracker } from '../../time/wall-clock.js';
import {
  type ColumnMapping,
  describeHeader,
  describeHeaders,
  FileFormatError,
  type FileFormatErrorCode,
} from '../formats.js';
import type { ImportType } from '../job.js';
import type { SiteMapper } from '../rows.js';
import type { ReadingType, Unit } from '../values.js';

export const LAYOUT_NAMES = [
  'hh-matrix',
  'hh-matrix-flags',
  'hh-time',
  'hh-time-flags',
  'hh-time-end',
  'hh-time-end-flags',
  'hh-interval',
  'hh-settlement',
  'hh-octopus',
  'daily',
  'sites',
] as const;

export type LayoutName = (typeof LAYOUT_NAMES)[number];

/** One reading as the database stores it (see docs/design.md#time-model). */
export type Reading = {
  readonly meterCode: string;
  /** YYYY-MM-DD, the Europe/London settlement date. */
  readonly settlementDate: string;
  /** 1..50 for half-hourly readings; null for daily ones. */
  readonly period: number | null;
  /** The interval's start (daily: local midnight) as epoch milliseconds, UTC. */
  readonly startUtcMs: number;
  /** kWh as a DECIMAL(12,4) literal, e.g. `0.0056`. */
  readonly kwh: string;
  readonly type: ReadingType;
  /** The unit the value was written in, for the summary's `unit_counts`. */
  readonly unit: Unit;
};

/** `blank`: every cell is empty (spreadsheets export such rows); skip it, it is not an error. */
export type ReadingRecordResult =
  | { readonly kind: 'rows'; readonly rows: Reading[] }
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'blank' };

/** Maps one record's fields (looked up by header position; missing trailing fields read as empty). */
export type ReadingMapper = (fields: readonly string[]) => ReadingRecordResult;

export type ReadingLayoutPlan = {
  readonly kind: 'readings';
  readonly name: LayoutName;
  readonly importType: 'hh' | 'daily';
  /** Summary `meta.column_mapping`: field → header as written. */
  readonly columnMapping: ColumnMapping;
  /** Column index of the meter code, or null when the file names no meter (the request must). */
  readonly meterColumn: number | null;
  /**
   * Builds the record mapper. `meterCode` is the request's meter (only when meterColumn is null);
   * `tracker` holds which ambiguous autumn times each meter has had so far in this file.
   */
  readonly compile: (options: { meterCode: string | null; tracker: AmbiguousTimeTracker }) => ReadingMapper;
};

export type SitesLayoutPlan = {
  readonly kind: 'sites';
  readonly name: 'sites';
  readonly importType: 'sites';
  readonly columnMapping: ColumnMapping;
  readonly compile: () => SiteMapper;
};

export type LayoutPlan = ReadingLayoutPlan | SitesLayoutPlan;

/** Why a layout does not fit a file's headers, to explain a refusal (code: the error's, if it is the only candidate). */
export type LayoutMiss = {
  readonly kind: 'miss';
  readonly reason: string;
  readonly code: FileFormatErrorCode;
};

export type LayoutDefinition = {
  readonly name: LayoutName;
  readonly importType: ImportType;
  /** For the formats document and error messages. */
  readonly exampleHeader: string;
  readonly match: (headers: readonly string[]) => LayoutPlan | LayoutMiss;
};

export function miss(reason: string, code: FileFormatErrorCode = 'unknown-layout'): LayoutMiss {
  return { kind: 'miss', reason, code };
}

/**
 * A file whose headers cannot be read with certainty, or a request that names its meter wrongly.
 * Extends FileFormatError, so the processor fails such a job for good (never retried). `headers` is
 * what the file's header row held, for the API to show (422; an unknown `format` name is a 400).
 */
export class LayoutError extends FileFormatError {
  /** The header row as shown to a caller: at most 50 headers, each cleaned and cut to 40 characters. */
  readonly headers: readonly string[];

  constructor(
    code: FileFormatErrorCode,
    message: string,
    headers: readonly string[],
    readonly statusCode: 400 | 422 = 422,
  ) {
    super(code, headers.length === 0 ? message : `${message}. Headers detected: ${describeHeaders(headers)}`);
    this.headers = headers.slice(0, MAX_HEADERS_SHOWN).map(describeHeader);
  }
}

const MAX_HEADERS_SHOWN = 50;
