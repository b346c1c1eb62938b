// Writes one meter's half-hours in each supplier layout, and says which readings each file holds.
// Local times come from the platform's tz database (Intl), not from lib/time, so tests that import
// these files check lib/time against an independent source.

import type { LayoutName } from '../../lib/imports/layouts/layout.js';

export type HalfHour = {
  /** Settlement date (Europe/London), YYYY-MM-DD. */
  readonly date: string;
  readonly period: number;
  readonly periodCount: number;
  readonly startUtcMs: number;
  /** Local wall-clock start, HH:MM, and its offset from UTC in minutes (0 or 60). */
  readonly localTime: string;
  readonly offsetMinutes: number;
  /** 2 for the GMT repeat of the autumn hour, else 1. */
  readonly occurrence: 1 | 2;
  readonly kwh: string;
  readonly type: 'actual' | 'estimated';
};

const PERIOD_MS = 1_800_000;
const formatter = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

function london(utcMs: number): { date: string; time: string } {
  const parts: Record<string, string> = {};
  for (const part of formatter.formatToParts(utcMs)) parts[part.type] = part.value;
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

function localMidnightUtcMs(date: string): number {
  const candidate = Date.parse(`${date}T00:00:00Z`) - 3_600_000;
  return london(candidate).date === date && london(candidate).time === '00:00'
    ? candidate
    : candidate + 3_600_000;
}

function nextDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** A deterministic value per half-hour, up to 3 decimals, never 0. */
function kwhFor(dayIndex: number, period: number): string {
  return String(Number((0.1 + ((period * 37 + dayIndex * 11) % 997) / 1000).toFixed(3)));
}

/** Every half-hour of the given settlement dates, in order; every 17th reading is estimated. */
export function halfHoursOf(dates: readonly string[]): HalfHour[] {
  const result: HalfHour[] = [];
  dates.forEach((date, dayIndex) => {
    const midnight = localMidnightUtcMs(date);
    const periodCount = (localMidnightUtcMs(nextDate(date)) - midnight) / PERIOD_MS;
    const seen = new Set<string>();
    for (let period = 1; period <= periodCount; period++) {
      const startUtcMs = midnight + (period - 1) * PERIOD_MS;
      const local = london(startUtcMs);
      const offsetMinutes = (Date.parse(`${local.date}T${local.time}:00Z`) - startUtcMs) / 60_000;
      const occurrence = seen.has(local.time) ? 2 : 1;
      seen.add(local.time);
      result.push({
        date,
        period,
        periodCount,
        startUtcMs,
        localTime: local.time,
        offsetMinutes,
        occurrence,
        kwh: kwhFor(dayIndex, period),
        type: (dayIndex * 50 + period) % 17 === 0 ? 'estimated' : 'actual',
      });
    }
  });
  return result;
}

export function datesOfYear(year: number): string[] {
  const dates: string[] = [];
  for (let date = `${year}-01-01`; date.startsWith(String(year)); date = nextDate(date)) dates.push(date);
  return dates;
}

function groupByDate(halfHours: readonly HalfHour[]): Map<string, HalfHour[]> {
  const days = new Map<string, HalfHour[]>();
  for (const halfHour of halfHours) {
    const day = days.get(halfHour.date) ?? [];
    day.push(halfHour);
    days.set(halfHour.date, day);
  }
  return days;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function dmy(date: string): string {
  return `${date.slice(8, 10)}/${date.slice(5, 7)}/${date.slice(0, 4)}`;
}
function dmyShort(date: string): string {
  return `${date.slice(8, 10)}/${date.slice(5, 7)}/${date.slice(2, 4)}`;
}
function dMonY(date: string): string {
  return `${date.slice(8, 10)}-${MONTHS[Number(date.slice(5, 7)) - 1]}-${date.slice(0, 4)}`;
}
function flag(halfHour: HalfHour): string {
  return halfHour.type === 'estimated' ? 'E' : 'A';
}

/** Start-of-interval wall-clock labels with the autumn hour given twice: 50 columns. */
const START_LABELS: readonly string[] = (() => {
  const labels: string[] = [];
  for (let minutes = 0; minutes < 1440; minutes += 30) {
    labels.push(
      `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`,
    );
    if (minutes === 90) labels.push('01:00', '01:30');
  }
  return labels;
})();

/** The value cells of a day in START_LABELS order: a time column holds the half-hour starting then. */
function cellsByStartLabel(day: readonly HalfHour[]): Array<HalfHour | null> {
  const byKey = new Map(day.map((h) => [`${h.localTime}#${h.occurrence}`, h]));
  const seen = new Set<string>();
  return START_LABELS.map((label) => {
    const occurrence = seen.has(label) ? 2 : 1;
    seen.add(label);
    return byKey.get(`${label}#${occurrence}`) ?? null;
  });
}

function endLabel(startLabel: string, style: 'colon' | 'digits' | 'bare'): string {
  const minutes = Number(startLabel.slice(0, 2)) * 60 + Number(startLabel.slice(3, 5)) + 30;
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  if (style === 'colon') return `${hh}:${mm}`;
  if (style === 'digits') return `${hh}${mm}`;
  return String(Number(`${hh}${mm}`));
}

/** ISO 8601 local time with its offset, as Octopus writes it: `2025-10-26T01:30:00+01:00`. */
function localIso(h: HalfHour, plusMinutes = 0): string {
  const ms = h.startUtcMs + plusMinutes * 60_000;
  const local = london(ms);
  const offsetMinutes = (Date.parse(`${local.date}T${local.time}:00Z`) - ms) / 60_000;
  return `${local.date}T${local.time}:00${offsetMinutes === 60 ? '+01:00' : '+00:00'}`;
}

export type WriteOptions = {
  readonly meter: string;
  /** False: no meter column (the request names the meter). Only some layouts allow it. */
  readonly withMeterColumn?: boolean;
};

/** The file text of `halfHours` in a layout, with the extra columns real exports carry. */
export function writeLayoutFile(
  layout: LayoutName,
  halfHours: readonly HalfHour[],
  options: WriteOptions,
): string {
  const { meter } = options;
  const days = groupByDate(halfHours);
  const lines: string[] = [];
  switch (layout) {
    case 'hh-matrix': {
      const periods = Array.from({ length: 50 }, (_, i) => `HH${String(i + 1).padStart(2, '0')}`);
      lines.push(
        ['MPAN', 'Meter Serial', 'Customer', 'Site Name', 'Date', 'Units', ...periods, 'Total kWh'].join(','),
      );
      for (const [date, day] of days) {
        const cells = Array.from({ length: 50 }, (_, i) => day[i]?.kwh ?? '');
        lines.push(
          [meter, 'K12A34567', 'Acme Ltd', '"Unit 4, Leeds"', dmy(date), 'kWh', ...cells, '99.9'].join(','),
        );
      }
      break;
    }
    case 'hh-matrix-flags': {
      const head = Array.from({ length: 50 }, (_, i) => [`HH${i + 1}`, 'Type']).flat();
      lines.push(['MPANCore', 'Date', ...head, 'Total', 'Data Quality (% Complete)'].join(','));
      for (const [date, day] of days) {
        const cells = Array.from({ length: 50 }, (_, i) => {
          const h = day[i];
          return h === undefined ? ['', ''] : [h.kwh, flag(h)];
        }).flat();
        lines.push([meter, dMonY(date), ...cells, '99.9', '100'].join(','));
      }
      break;
    }
    case 'hh-time':
    case 'hh-time-flags': {
      const withFlags = layout === 'hh-time-flags';
      const head = START_LABELS.flatMap((label) => (withFlags ? [label, 'Flag'] : [label]));
      lines.push(['Customer', 'MPAN', 'Address', 'Date', ...head].join(','));
      for (const [date, day] of days) {
        const cells = cellsByStartLabel(day).flatMap((h) => {
          if (!withFlags) return [h?.kwh ?? ''];
          return h === null ? ['', ''] : [h.kwh, flag(h)];
        });
        lines.push(
          ['Acme Ltd', meter, '"1 High St, York"', withFlags ? dmyShort(date) : date, ...cells].join(','),
        );
      }
      break;
    }
    case 'hh-time-end':
    case 'hh-time-end-flags': {
      const withFlags = layout === 'hh-time-end-flags';
      const style = withFlags ? 'bare' : 'digits';
      const head = START_LABELS.flatMap((label) =>
        withFlags ? [endLabel(label, style), 'Type'] : [endLabel(label, style)],
      );
      lines.push(['Site', 'MPAN', 'Serial', 'Read Date', ...head, 'Total kWh'].join(','));
      for (const [date, day] of days) {
        const cells = cellsByStartLabel(day).flatMap((h) => {
          if (!withFlags) return [h?.kwh ?? ''];
          return h === null ? ['', ''] : [h.kwh, flag(h)];
        });
        lines.push(['York Depot', meter, 'S-1', dmy(date), ...cells, '1'].join(','));
      }
      break;
    }
    case 'hh-interval': {
      const withMeter = options.withMeterColumn ?? true;
      lines.push(
        [...(withMeter ? ['MPAN'] : []), 'ReadDateTime', 'ReadValue', 'Unit', 'ReadingType'].join(','),
      );
      for (const h of halfHours) {
        // Europe/London wall-clock; the autumn hour's two occurrences come in order (BST, then GMT).
        const when = `${h.date} ${h.localTime}:00`;
        lines.push([...(withMeter ? [meter] : []), when, h.kwh, 'kWh', flag(h)].join(','));
      }
      break;
    }
    case 'hh-settlement': {
      lines.push('MPANCore,Sett Date,Sett Period,Type,Meter Read');
      for (const h of halfHours) lines.push([meter, dmy(h.date), h.period, flag(h), h.kwh].join(','));
      break;
    }
    case 'hh-octopus': {
      lines.push(' Consumption (kwh), Estimated Cost Inc. Tax (p), Standing Charge Inc. Tax (p), Start, End');
      for (const h of halfHours) {
        const cost = (Number(h.kwh) * 24.5).toFixed(2);
        lines.push(` ${h.kwh}, ${cost}, 1.23, ${localIso(h)}, ${localIso(h, 30)}`);
      }
      break;
    }
    case 'daily': {
      lines.push('MPAN,Date,Reading,Unit,ReadingType');
      for (const [date, day] of days) {
        const total = day.reduce((sum, h) => sum + Math.round(Number(h.kwh) * 1000), 0) / 1000;
        lines.push([meter, dmy(date), String(total), 'kWh', 'A'].join(','));
      }
      break;
    }
    case 'sites':
      throw new Error('sites files hold no readings');
  }
  return `${lines.join('\n')}\n`;
}

/** The half-hour layouts whose files hold every half-hour (17,520 for 2025). */
export const HALF_HOURLY_LAYOUTS = [
  'hh-matrix',
  'hh-matrix-flags',
  'hh-time',
  'hh-time-flags',
  'hh-time-end',
  'hh-time-end-flags',
  'hh-interval',
  'hh-settlement',
  'hh-octopus',
] as const satisfies readonly LayoutName[];
