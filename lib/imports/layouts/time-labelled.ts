// Time-labelled half-hour columns: `00:00..23:30` label each interval's start; `00:30..24:00`,
// `0030..2400` or `30,100,…,2400` label its end. Labels are Europe/London wall-clock: on the spring day
// the 01:00–01:59 columns must be empty; on the autumn day they are the BST hour, and a second column
// with the same label (if the file has one) is the GMT hour.

import { describeHeader } from '../formats.js';
import { type HeaderScan, scanHeaders } from './headers.js';
import type { LayoutDefinition, LayoutName } from './layout.js';
import { type LabelledColumns, planWideLayout, type SlotLabel } from './matrix.js';

/** `00:30`, `0:30`, `0030`, `030`, `30`, `2400`: hours and minutes, minutes 00 or 30. */
const TIME_LABEL = /^(\d{1,2}):?(\d{2})$|^(\d{1,2})$/;

function minutesOfLabel(header: string): number | null {
  const match = TIME_LABEL.exec(header.trim());
  if (match === null) return null;
  const hours = match[3] !== undefined ? 0 : Number(match[1]);
  const minutes = Number(match[3] ?? match[2]);
  if (minutes !== 0 && minutes !== 30) return null;
  // A bare 1-2 digit number is minutes past midnight only as `30` (the `30,100,…` style).
  if (match[3] !== undefined && minutes !== 30) return null;
  const total = hours * 60 + minutes;
  return total <= 1440 ? total : null;
}

export type LabelEnd = 'start' | 'end';

/**
 * Every half-hour of the day labelled once (48 columns), plus optionally a second column for each
 * half-hour of the autumn repeated hour. Start labels run 00:00..23:30, end labels 00:30..24:00.
 */
export function labelTimeColumns(scan: HeaderScan, end: LabelEnd): LabelledColumns {
  const found: Array<{ index: number; minutes: number }> = [];
  for (let index = 0; index < scan.raw.length; index++) {
    const minutes = minutesOfLabel(scan.raw[index] ?? '');
    if (minutes !== null) found.push({ index, minutes });
  }
  if (found.length === 0) return { ok: false, reason: 'no time-labelled half-hour columns (00:00..23:30)' };
  const isEndLabelled = found.some((column) => column.minutes === 1440);
  const isStartLabelled = found.some((column) => column.minutes === 0);
  if (isEndLabelled && isStartLabelled) {
    return { ok: false, reason: 'half-hour columns include both 00:00 and 24:00' };
  }
  if ((end === 'end') !== isEndLabelled) {
    return {
      ok: false,
      reason: end === 'end' ? 'no 24:00 column (end-labelled)' : 'half-hour columns are end-labelled',
    };
  }
  const offset = end === 'end' ? 30 : 0;
  const labels = new Map<number, SlotLabel>();
  const occurrences = new Map<number, number>();
  for (const { index, minutes } of found) {
    const startMinutes = minutes - offset;
    const occurrence = (occurrences.get(startMinutes) ?? 0) + 1;
    occurrences.set(startMinutes, occurrence);
    const header = describeHeader(scan.raw[index] ?? '');
    const isRepeatedHour = startMinutes >= 60 && startMinutes < 120;
    if (occurrence > 2 || (occurrence === 2 && !isRepeatedHour)) {
      return { ok: false, reason: `column ${header} appears more than once` };
    }
    labels.set(index, { kind: 'time', startMinutes, occurrence: occurrence === 1 ? 1 : 2 });
  }
  for (let startMinutes = 0; startMinutes < 1440; startMinutes += 30) {
    if (!occurrences.has(startMinutes)) {
      const minutes = startMinutes + offset;
      const label = `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
      return { ok: false, reason: `no half-hour column for ${label}` };
    }
  }
  return { ok: true, labels };
}

function timeLayout(name: LayoutName, end: LabelEnd, withFlags: boolean, example: string): LayoutDefinition {
  return {
    name,
    importType: 'hh',
    exampleHeader: example,
    match: (headers) => {
      const scan = scanHeaders(headers);
      return planWideLayout(scan, name, labelTimeColumns(scan, end), withFlags);
    },
  };
}

export const timeStartLayout = timeLayout('hh-time', 'start', false, 'MPAN,Date,00:00,00:30,…,23:30');
export const timeStartFlagsLayout = timeLayout(
  'hh-time-flags',
  'start',
  true,
  'MPAN,Date,00:00,Type,00:30,Type,…,23:30,Type',
);
export const timeEndLayout = timeLayout('hh-time-end', 'end', false, 'MPAN,Date,00:30,01:00,…,24:00');
export const timeEndFlagsLayout = timeLayout(
  'hh-time-end-flags',
  'end',
  true,
  'MPAN,Date,0030,Flag,0100,Flag,…,2400,Flag',
);
