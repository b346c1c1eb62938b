// The layout registry: every layout a file may have, chosen by its header row. Exactly one layout must
// fit (or the one the caller names with `format`); none or several is a LayoutError showing the
// headers, never a guess. Also settles where the meter comes from: a file column or the request.

import { type CsvReaderOptions, parseCsvText } from '../csv-reader.js';
import { noHeaderError } from '../formats.js';
import type { ImportType } from '../job.js';
import { parseMeterCode } from '../values.js';
import { dailyLayout } from './daily.js';
import {
  LAYOUT_NAMES,
  type LayoutDefinition,
  LayoutError,
  type LayoutMiss,
  type LayoutName,
  type LayoutPlan,
} from './layout.js';
import { longLayout } from './long.js';
import { numberedFlagsLayout, numberedLayout } from './numbered.js';
import { settlementLongLayout } from './settlement-long.js';
import { octopusLayout } from './single-meter.js';
import { sitesLayout } from './sites.js';
import { timeEndFlagsLayout, timeEndLayout, timeStartFlagsLayout, timeStartLayout } from './time-labelled.js';

export const LAYOUTS: readonly LayoutDefinition[] = [
  numberedLayout,
  numberedFlagsLayout,
  timeStartLayout,
  timeStartFlagsLayout,
  timeEndLayout,
  timeEndFlagsLayout,
  longLayout,
  settlementLongLayout,
  octopusLayout,
  dailyLayout,
  sitesLayout,
];

export function layoutNamesFor(importType: ImportType): LayoutName[] {
  return LAYOUTS.filter((layout) => layout.importType === importType).map((layout) => layout.name);
}

function isLayoutName(value: string): value is LayoutName {
  return (LAYOUT_NAMES as readonly string[]).includes(value);
}

/**
 * The `format` parameter: undefined when absent or empty, else a layout name of the import type. An
 * unknown name is a 400 listing the names.
 */
export function parseFormatName(importType: ImportType, value: string | undefined): LayoutName | undefined {
  if (value === undefined || value === '') return undefined;
  const names = layoutNamesFor(importType);
  if (isLayoutName(value) && names.includes(value)) return value;
  throw new LayoutError(
    'unknown-format',
    `format must be one of the ${importType} layouts: ${names.join(', ')}`,
    [],
    400,
  );
}

/** The `meter` parameter: undefined when absent or empty, else a valid meter code (400 if not). */
export function parseMeterParameter(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = parseMeterCode(value);
  if (!parsed.ok) throw new LayoutError('meter-parameter-invalid', `meter: ${parsed.reason}`, [], 400);
  return parsed.value;
}

export type ResolveOptions = {
  /** A layout name from parseFormatName: use it instead of detecting. */
  readonly format?: LayoutName | undefined;
  /** The request's meter code from parseMeterParameter, for files with no meter column. */
  readonly meterCode?: string | undefined;
};

function isBlankHeader(headers: readonly string[]): boolean {
  return headers.every((header) => header.trim() === '' || header === '\ufeff');
}

/** Reasons per layout when none fits, one per family (flag variants say the same as their base). */
function describeMisses(misses: ReadonlyArray<readonly [LayoutName, LayoutMiss]>): string {
  return misses
    .filter(([name]) => !name.endsWith('-flags') && name !== 'hh-time-end')
    .map(([name, result]) => `${name}: ${result.reason}`)
    .join('; ');
}

function detect(importType: ImportType, headers: readonly string[]): LayoutPlan {
  const candidates = LAYOUTS.filter((layout) => layout.importType === importType);
  const fits: LayoutPlan[] = [];
  const misses: Array<readonly [LayoutName, LayoutMiss]> = [];
  for (const layout of candidates) {
    const result = layout.match(headers);
    if (result.kind === 'miss') misses.push([layout.name, result]);
    else fits.push(result);
  }
  const [only, ...others] = fits;
  if (only !== undefined && others.length === 0) return only;
  if (only !== undefined) {
    const names = fits.map((plan) => plan.name).join(', ');
    throw new LayoutError(
      'ambiguous-layout',
      `The headers fit more than one layout (${names}); choose one with format=<name>`,
      headers,
    );
  }
  const [single] = misses;
  if (misses.length === 1 && single !== undefined) {
    throw new LayoutError(single[1].code, single[1].reason, headers);
  }
  throw new LayoutError(
    'unknown-layout',
    `No ${importType} layout fits these headers (${describeMisses(misses)})`,
    headers,
  );
}

/**
 * The layout of a file from its header row: detected, or the one named by `format`. Then the meter:
 * a file with a meter column must not also get a `meter` parameter, and one without must.
 */
export function resolveLayout(
  importType: ImportType,
  headers: readonly string[],
  options: ResolveOptions = {},
): LayoutPlan {
  if (isBlankHeader(headers)) throw noHeaderError();
  let plan: LayoutPlan;
  if (options.format === undefined) {
    plan = detect(importType, headers);
  } else {
    const layout = LAYOUTS.find((candidate) => candidate.name === options.format);
    if (layout === undefined || layout.importType !== importType) {
      throw new LayoutError(
        'unknown-format',
        `format ${options.format} is not a ${importType} layout`,
        [],
        400,
      );
    }
    const result = layout.match(headers);
    if (result.kind === 'miss') {
      throw new LayoutError(
        'invalid-columns',
        `The headers do not fit layout ${layout.name}: ${result.reason}`,
        headers,
      );
    }
    plan = result;
  }
  if (plan.kind === 'sites') {
    if (options.meterCode !== undefined) {
      throw new LayoutError('meter-parameter-conflict', 'A sites import takes no meter parameter', []);
    }
    return plan;
  }
  if (plan.meterColumn !== null && options.meterCode !== undefined) {
    throw new LayoutError(
      'meter-parameter-conflict',
      `The file has a meter column (${plan.columnMapping.meter ?? ''}), so it takes no meter parameter`,
      headers,
    );
  }
  if (plan.meterColumn === null && options.meterCode === undefined) {
    throw new LayoutError(
      'missing-meter-column',
      'CSV must include a column containing the meter identifier (e.g. MPAN or MeterCode), or the request must name the meter (meter=<code>)',
      headers,
    );
  }
  return plan;
}

/**
 * Upload-time check: the layout of a file from its first bytes (`isTruncated` when that is only a
 * prefix, so an unfinished last line is ignored), or a LayoutError / CsvFormatError to answer before
 * anything is queued.
 */
export function resolveLayoutFromHead(
  importType: ImportType,
  head: string | Uint8Array,
  options: CsvReaderOptions & { isTruncated: boolean } & ResolveOptions,
): LayoutPlan {
  const { records } = parseCsvText(head, options);
  const header = records[0];
  if (header === undefined) throw noHeaderError();
  return resolveLayout(importType, header.fields, options);
}
