// The wide ("matrix") record: one meter-day per row, one value column per half-hour. The numbered and
// time-labelled families only say which period each column is; this module turns a row into readings,
// with the day's own period count deciding which columns may hold a value (46, 48 or 50).

import { type DayKind, periodStartUtcMs, type SettlementDay } from '../../time/settlement-calendar.js';
import { type ColumnMapping, describeHeader } from '../formats.js';
import {
  type DecimalProblem,
  parseReadingType,
  quoteValue,
  scaleDecimal,
  type Unit,
  unitShift,
} from '../values.js';
import { cell, createMeterReader, readRowContext, readSettlementDay, rowError } from './cells.js';
import {
  columnMappingOf,
  DATE_ALIASES,
  findColumn,
  findMeterColumn,
  type HeaderScan,
  TYPE_ALIASES,
  UNIT_ALIASES,
} from './headers.js';
import { findFlagColumns } from './interleaved-flags.js';
import {
  type LayoutMiss,
  type LayoutName,
  miss,
  type Reading,
  type ReadingLayoutPlan,
  type ReadingMapper,
} from './layout.js';

/** What a value column stands for: a period number, or a local start time (and which occurrence). */
export type SlotLabel =
  | { readonly kind: 'period'; readonly period: number }
  | { readonly kind: 'time'; readonly startMinutes: number; readonly occurrence: 1 | 2 };

export type MatrixSlot = {
  readonly index: number;
  /** The flag column after the value (interleaved flags), whose A/E applies to it. */
  readonly flagIndex: number | null;
  /** The header as written, for row error messages. */
  readonly header: string;
  readonly label: SlotLabel;
};

export type MatrixColumns = {
  readonly meter: number | null;
  readonly date: number;
  readonly unit: number | null;
  /** A row-level reading type; unused when the slots carry their own flags. */
  readonly readingType: number | null;
};

/** Per day kind, each slot's period, or the reason a value there is an error on that day. */
type SlotTarget = number | ((day: SettlementDay) => string);

const KINDS: readonly DayKind[] = ['normal', 'spring-forward', 'autumn-back'];

function periodTarget(slot: MatrixSlot, kind: DayKind): SlotTarget {
  const { label, header } = slot;
  if (label.kind === 'period') {
    const count = kind === 'spring-forward' ? 46 : kind === 'autumn-back' ? 50 : 48;
    if (label.period <= count) return label.period;
    const why = kind === 'spring-forward' ? ' (the clocks go forward)' : '';
    return (day) => `Value in column ${header}, but ${day.date} has ${count} half-hours${why}`;
  }
  const m = label.startMinutes;
  const base = Math.floor(m / 30) + 1;
  if (label.occurrence === 2 && kind !== 'autumn-back') {
    return (day) =>
      `Value in column ${header} (the repeated 01:00–01:59 hour), but the clocks do not go back on ${day.date}`;
  }
  if (kind === 'normal' || m < 60) return base;
  if (kind === 'spring-forward') {
    if (m >= 120) return base - 2;
    return (day) =>
      `Value in column ${header}, but ${day.date} has no ${header.trim()}: UK clocks go forward from 01:00 GMT to 02:00 BST`;
  }
  if (m >= 120 || label.occurrence === 2) return base + 2;
  return base;
}

const CELL_PROBLEM_ADJECTIVES: Readonly<Record<DecimalProblem, string>> = {
  empty: 'Missing',
  'not-a-number': 'Non-numeric',
  negative: 'Negative',
  'too-large': 'Out-of-range',
};

export function describeSlots(slots: readonly MatrixSlot[]): string {
  const first = slots[0];
  const last = slots[slots.length - 1];
  if (first === undefined || last === undefined) return '';
  return `${first.header}..${last.header} (${slots.length} columns)`;
}

/** A ReadingLayoutPlan for wide files, whatever labels its value columns carry. */
export function matrixPlan(options: {
  readonly name: LayoutName;
  readonly columns: MatrixColumns;
  readonly slots: readonly MatrixSlot[];
  readonly defaultUnit: Unit;
  readonly columnMapping: ColumnMapping;
}): ReadingLayoutPlan {
  const { columns, slots, defaultUnit } = options;
  const targets = new Map(KINDS.map((kind) => [kind, slots.map((slot) => periodTarget(slot, kind))]));
  const hasFlags = slots.some((slot) => slot.flagIndex !== null);
  const contextColumns = { unit: columns.unit, readingType: hasFlags ? null : columns.readingType };
  return {
    kind: 'readings',
    name: options.name,
    importType: 'hh',
    columnMapping: options.columnMapping,
    meterColumn: columns.meter,
    compile: ({ meterCode }): ReadingMapper => {
      const readMeter = createMeterReader(columns.meter, meterCode);
      return (fields) => {
        const meter = readMeter(fields);
        if (!('ok' in meter)) return meter;
        const day = readSettlementDay(cell(fields, columns.date));
        if (!day.ok) return rowError(day.reason);
        const context = readRowContext(fields, contextColumns, defaultUnit);
        if (!context.ok) return rowError(context.reason);
        const shift = unitShift(context.value.unit);
        const dayTargets = targets.get(day.value.kind) ?? [];
        const rows: Reading[] = [];
        for (let i = 0; i < slots.length; i++) {
          const slot = slots[i];
          const target = dayTargets[i];
          if (slot === undefined || target === undefined) continue;
          const text = cell(fields, slot.index);
          if (text.trim() === '') continue;
          if (typeof target === 'function') return rowError(target(day.value));
          const scaled = scaleDecimal(text, shift);
          if (!scaled.ok) {
            const adjective = CELL_PROBLEM_ADJECTIVES[scaled.problem];
            return rowError(`${adjective} value ${quoteValue(text.trim())} in column ${slot.header}`);
          }
          let type = context.value.readingType;
          if (slot.flagIndex !== null) {
            const flag = parseReadingType(cell(fields, slot.flagIndex));
            if (!flag.ok) return rowError(`${flag.reason} in the flag column after ${slot.header}`);
            type = flag.value;
          }
          rows.push({
            meterCode: meter.value,
            settlementDate: day.value.date,
            period: target,
            startUtcMs: periodStartUtcMs(day.value, target),
            kwh: scaled.value,
            type,
            unit: context.value.unit,
          });
        }
        return { kind: 'rows', rows };
      };
    },
  };
}

/** A family's reading of the header row: each value column's label, or why the headers do not fit. */
export type LabelledColumns =
  | { readonly ok: true; readonly labels: ReadonlyMap<number, SlotLabel> }
  | { readonly ok: false; readonly reason: string };

/**
 * The plan for a wide file once its family has labelled the value columns: flag columns (wanted or
 * not, per layout name), then the date, meter, unit and row-level type columns among the rest.
 */
export function planWideLayout(
  scan: HeaderScan,
  name: LayoutName,
  labelled: LabelledColumns,
  withFlags: boolean,
): ReadingLayoutPlan | LayoutMiss {
  if (!labelled.ok) return miss(labelled.reason);
  const valueColumns = [...labelled.labels.keys()].sort((a, b) => a - b);
  const flags = findFlagColumns(scan, valueColumns);
  if (flags.kind === 'mixed') return miss(flags.reason);
  if (withFlags !== (flags.kind === 'interleaved')) {
    return miss(
      withFlags ? 'no flag column after each value column' : 'a flag column follows each value column',
    );
  }
  const flagOf = flags.kind === 'interleaved' ? flags.flagOf : new Map<number, number>();
  const taken = new Set([...valueColumns, ...flagOf.values()]);
  const date = findColumn(scan, DATE_ALIASES, taken);
  if (date === null) return miss('no date column (e.g. Date) next to the half-hour columns');
  const meter = findMeterColumn(scan);
  const unit = findColumn(scan, UNIT_ALIASES, taken);
  const readingType = withFlags ? null : findColumn(scan, TYPE_ALIASES, taken);
  const slots: MatrixSlot[] = valueColumns.map((index) => ({
    index,
    flagIndex: flagOf.get(index) ?? null,
    header: describeHeader(scan.raw[index] ?? ''),
    label: labelled.labels.get(index) ?? { kind: 'period', period: 0 },
  }));
  const columnMapping = columnMappingOf(scan, { meter, date, unit, reading_type: readingType });
  columnMapping.periods = describeSlots(slots);
  if (withFlags) columnMapping.flags = `a flag column after each value (${flagOf.size} columns)`;
  return matrixPlan({
    name,
    columns: { meter, date, unit, readingType },
    slots,
    defaultUnit: 'kWh',
    columnMapping,
  });
}
