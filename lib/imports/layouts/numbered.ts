// Numbered period columns: `HH01..HH48` (up to HH50), `HH1..`, `1..50`, `P1..P50`, `Period 1..`. Column
// n is settlement period n, whatever the day: a 46-period day's HH47/HH48 must be empty, a 50-period
// day's HH49/HH50 are read.

import { describeHeader } from '../formats.js';
import { type HeaderScan, scanHeaders } from './headers.js';
import type { LayoutDefinition } from './layout.js';
import { type LabelledColumns, planWideLayout, type SlotLabel } from './matrix.js';

const NUMBERED = /^(hh|p|period)?(\d{1,2})$/;
const MIN_COLUMNS = 46;
const MAX_PERIOD = 50;

/** Period columns must be exactly 1..N (46 ≤ N ≤ 50), each once, with one naming style. */
export function labelNumberedColumns(scan: HeaderScan): LabelledColumns {
  const labels = new Map<number, SlotLabel>();
  const prefixes = new Set<string>();
  const seen = new Map<number, number>();
  for (let index = 0; index < scan.normalised.length; index++) {
    const match = NUMBERED.exec(scan.normalised[index] ?? '');
    if (match === null) continue;
    const header = describeHeader(scan.raw[index] ?? '');
    const period = Number(match[2]);
    if (period < 1 || period > MAX_PERIOD) {
      return { ok: false, reason: `column ${header} is not a period from 1 to ${MAX_PERIOD}` };
    }
    const earlier = seen.get(period);
    if (earlier !== undefined) {
      return {
        ok: false,
        reason: `columns ${describeHeader(scan.raw[earlier] ?? '')} and ${header} both name period ${period}`,
      };
    }
    seen.set(period, index);
    prefixes.add(match[1] ?? '');
    labels.set(index, { kind: 'period', period });
  }
  if (labels.size === 0) return { ok: false, reason: 'no numbered half-hour columns (HH01..HH48)' };
  if (prefixes.size > 1) return { ok: false, reason: 'period columns are named in more than one style' };
  for (let period = 1; period <= labels.size; period++) {
    if (!seen.has(period)) return { ok: false, reason: `no column for period ${period}` };
  }
  if (labels.size < MIN_COLUMNS) {
    return { ok: false, reason: `${labels.size} period columns; a day needs at least ${MIN_COLUMNS}` };
  }
  return { ok: true, labels };
}

export const numberedLayout: LayoutDefinition = {
  name: 'hh-matrix',
  importType: 'hh',
  exampleHeader: 'MPAN,Date,HH01,HH02,…,HH48[,HH49,HH50]',
  match: (headers) => {
    const scan = scanHeaders(headers);
    return planWideLayout(scan, 'hh-matrix', labelNumberedColumns(scan), false);
  },
};

export const numberedFlagsLayout: LayoutDefinition = {
  name: 'hh-matrix-flags',
  importType: 'hh',
  exampleHeader: 'MPAN,Date,HH01,Type,HH02,Type,…,HH48,Type',
  match: (headers) => {
    const scan = scanHeaders(headers);
    return planWideLayout(scan, 'hh-matrix-flags', labelNumberedColumns(scan), true);
  },
};
