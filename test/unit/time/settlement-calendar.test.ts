import { describe, expect, it } from 'vitest';
import {
  civilFromDays,
  clockChangesOf,
  DAY_MS,
  daysFromCivil,
  formatUtcIso,
  formatUtcSql,
  isBstAt,
  nextSettlementDay,
  PERIOD_MS,
  periodStartUtcMs,
  settlementDay,
  settlementDayByNumber,
  settlementPeriodAt,
} from '../../../lib/time/settlement-calendar.js';

function day(date: string) {
  const result = settlementDay(date);
  if (result === null) throw new Error(`not a settlement day: ${date}`);
  return result;
}

const utc = (iso: string) => Date.parse(iso);

/** Europe/London offset in minutes at an instant, from the platform's tz database (test oracle only). */
const londonParts = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});
function londonDate(utcMs: number): string {
  const parts = Object.fromEntries(londonParts.formatToParts(utcMs).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}
function londonMidnightUtcMs(date: string): number {
  // Local midnight is either 00:00Z or 23:00Z the day before.
  const candidate = utc(`${date}T00:00:00Z`) - 3_600_000;
  return londonDate(candidate) === date ? candidate : candidate + 3_600_000;
}

describe('clockChangesOf', () => {
  it.each([
    [2024, '2024-03-31', '2024-10-27'],
    [2025, '2025-03-30', '2025-10-26'],
    [2026, '2026-03-29', '2026-10-25'],
    [2027, '2027-03-28', '2027-10-31'],
  ])('puts the %i changes on the last Sundays of March and October at 01:00 UTC', (year, spring, autumn) => {
    const changes = clockChangesOf(year);
    expect(changes.springForwardDate).toBe(spring);
    expect(changes.autumnBackDate).toBe(autumn);
    expect(formatUtcIso(changes.springForwardUtcMs)).toBe(`${spring}T01:00:00Z`);
    expect(formatUtcIso(changes.autumnBackUtcMs)).toBe(`${autumn}T01:00:00Z`);
  });

  it('refuses years outside the rule it knows', () => {
    expect(() => clockChangesOf(1995)).toThrow(RangeError);
    expect(() => clockChangesOf(2101)).toThrow(RangeError);
  });
});

describe('settlementDay', () => {
  it.each([
    ['2025-03-30', 46, 'spring-forward', '2025-03-30T00:00:00Z'],
    ['2025-03-31', 48, 'normal', '2025-03-30T23:00:00Z'],
    ['2025-10-26', 50, 'autumn-back', '2025-10-25T23:00:00Z'],
    ['2025-10-27', 48, 'normal', '2025-10-27T00:00:00Z'],
    ['2026-03-29', 46, 'spring-forward', '2026-03-29T00:00:00Z'],
    ['2026-10-25', 50, 'autumn-back', '2026-10-24T23:00:00Z'],
    ['2025-07-01', 48, 'normal', '2025-06-30T23:00:00Z'],
    ['2025-01-15', 48, 'normal', '2025-01-15T00:00:00Z'],
  ])('%s has %i periods (%s) and starts at %s', (date, count, kind, midnight) => {
    const result = day(date);
    expect(result.periodCount).toBe(count);
    expect(result.kind).toBe(kind);
    expect(formatUtcIso(result.midnightUtcMs)).toBe(midnight);
  });

  it.each([
    '2025-02-29',
    '2025-13-01',
    '2025-04-31',
    '25-10-26',
    '2025-10-26 ',
    '1995-06-01',
    '2101-01-01',
    '',
  ])('refuses %j', (text) => {
    expect(settlementDay(text)).toBeNull();
  });

  it('accepts 29 February in a leap year', () => {
    expect(day('2024-02-29').periodCount).toBe(48);
  });

  it('agrees with the tz database on every day of 2024 to 2027', () => {
    let current = day('2024-01-01');
    const mismatches: string[] = [];
    while (current.date !== '2028-01-01') {
      const next = nextSettlementDay(current);
      if (next === null) throw new Error('ran off the calendar');
      const expectedMidnight = londonMidnightUtcMs(current.date);
      const expectedCount = (londonMidnightUtcMs(next.date) - expectedMidnight) / PERIOD_MS;
      if (current.midnightUtcMs !== expectedMidnight || current.periodCount !== expectedCount) {
        mismatches.push(current.date);
      }
      current = next;
    }
    expect(mismatches).toEqual([]);
  });

  it('gives the same object for a date by text and by day number', () => {
    const byText = day('2025-10-26');
    expect(settlementDayByNumber(byText.dayNumber)).toEqual(byText);
  });
});

describe('periodStartUtcMs', () => {
  it('starts period p at local midnight plus (p - 1) half-hours on the autumn day', () => {
    const autumn = day('2025-10-26');
    expect(formatUtcIso(periodStartUtcMs(autumn, 1))).toBe('2025-10-25T23:00:00Z');
    expect(formatUtcIso(periodStartUtcMs(autumn, 5))).toBe('2025-10-26T01:00:00Z');
    expect(formatUtcIso(periodStartUtcMs(autumn, 50))).toBe('2025-10-26T23:30:00Z');
  });

  it('ends the spring day with period 46 at 22:30Z', () => {
    const spring = day('2025-03-30');
    expect(formatUtcIso(periodStartUtcMs(spring, 3))).toBe('2025-03-30T01:00:00Z');
    expect(formatUtcIso(periodStartUtcMs(spring, 46))).toBe('2025-03-30T22:30:00Z');
  });
});

describe('settlementPeriodAt', () => {
  it('maps every half-hour of 2025 to consecutive periods, 17,520 in all', () => {
    let previous: { date: string; period: number } | null = null;
    let count = 0;
    const wrong: string[] = [];
    // Local midnight of 2025-01-01 is 00:00Z; of 2026-01-01 too.
    for (let t = utc('2025-01-01T00:00:00Z'); t < utc('2026-01-01T00:00:00Z'); t += PERIOD_MS) {
      const at = settlementPeriodAt(t);
      if (at === null) throw new Error('no period');
      const expectedPeriod = previous !== null && previous.date === at.day.date ? previous.period + 1 : 1;
      if (at.startUtcMs !== t || at.period !== expectedPeriod) wrong.push(formatUtcIso(t));
      // The tz database as an oracle, on every hour (the test's cost is mostly these calls).
      if (t % 3_600_000 === 0 && at.day.date !== londonDate(t)) wrong.push(`date of ${formatUtcIso(t)}`);
      previous = { date: at.day.date, period: at.period };
      count++;
    }
    expect(wrong).toEqual([]);
    expect(count).toBe(17_520);
  });

  it.each([
    ['2025-10-26T00:00:00Z', '2025-10-26', 3],
    ['2025-10-26T01:00:00Z', '2025-10-26', 5],
    ['2025-10-26T00:44:10Z', '2025-10-26', 4],
    ['2025-06-01T23:30:00Z', '2025-06-02', 2],
    ['2026-03-29T01:30:00Z', '2026-03-29', 4],
    ['2026-10-25T23:30:00Z', '2026-10-25', 50],
  ])('puts %s in %s period %i', (iso, date, period) => {
    const at = settlementPeriodAt(utc(iso));
    expect(at?.day.date).toBe(date);
    expect(at?.period).toBe(period);
  });

  it('rounds an instant inside a half-hour down to its start', () => {
    expect(formatUtcIso(settlementPeriodAt(utc('2025-10-26T00:44:10Z'))?.startUtcMs ?? 0)).toBe(
      '2025-10-26T00:30:00Z',
    );
  });

  it('returns null outside the calendar and for NaN', () => {
    expect(settlementPeriodAt(Number.NaN)).toBeNull();
    expect(settlementPeriodAt(utc('1990-01-01T00:00:00Z'))).toBeNull();
  });
});

describe('isBstAt', () => {
  it.each([
    ['2025-03-30T00:59:59Z', false],
    ['2025-03-30T01:00:00Z', true],
    ['2025-10-26T00:59:59Z', true],
    ['2025-10-26T01:00:00Z', false],
    ['2026-03-29T01:00:00Z', true],
    ['2026-10-25T01:00:00Z', false],
  ])('at %s is %s', (iso, expected) => {
    expect(isBstAt(utc(iso))).toBe(expected);
  });
});

describe('day numbers and formatting', () => {
  it('round-trips day numbers across four centuries', () => {
    const wrong: number[] = [];
    for (let n = daysFromCivil(1900, 1, 1); n < daysFromCivil(2300, 1, 1); n += 7) {
      const { year, month, day: d } = civilFromDays(n);
      const text = `${year}-${String(month).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
      if (daysFromCivil(year, month, d) !== n || new Date(n * DAY_MS).toISOString().slice(0, 10) !== text) {
        wrong.push(n);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('formats an instant for the API and for SQL', () => {
    const t = utc('2025-10-26T01:30:00Z');
    expect(formatUtcIso(t)).toBe('2025-10-26T01:30:00Z');
    expect(formatUtcSql(t)).toBe('2025-10-26 01:30:00');
  });

  it('formats any instant for SQL as toISOString does, across days and off the half-hours', () => {
    const wrong: number[] = [];
    // Steps of 7 min 13 s over 3 days: half-hours, odd seconds, and the same day asked twice in a row.
    for (let t = utc('2025-03-29T22:00:00Z'); t < utc('2025-04-01T00:00:00Z'); t += 433_000) {
      const expected = new Date(t).toISOString().slice(0, 19).replace('T', ' ');
      if (
        formatUtcSql(t) !== expected ||
        formatUtcSql(t - (t % 1_800_000)) !==
          expected.slice(0, 14) + (t % 3_600_000 >= 1_800_000 ? '30:00' : '00:00')
      ) {
        wrong.push(t);
      }
    }
    expect(wrong).toEqual([]);
  });
});
