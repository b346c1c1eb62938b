import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HALF_HOURLY_LAYOUTS, halfHoursOf } from '../../../helpers/layout-files.js';
import { importText, iso } from './import-text.js';

const DATES = ['2025-03-30', '2025-10-26'];
const METER = '1200000000001';
/** Layouts whose files carry an A/E flag per reading (the others read every value as actual). */
const FLAGGED = new Set([
  'hh-matrix-flags',
  'hh-time-flags',
  'hh-time-end-flags',
  'hh-interval',
  'hh-settlement',
]);

function fixtureText(layout: string): string {
  return readFileSync(
    fileURLToPath(new URL(`../../../fixtures/layouts/${layout}.csv`, import.meta.url)),
    'utf8',
  );
}

describe('layout fixtures over both 2025 clock-change days', () => {
  const expected = halfHoursOf(DATES);

  it('expects 46 + 50 half-hours from the tz database', () => {
    expect(expected.filter((h) => h.date === '2025-03-30')).toHaveLength(46);
    expect(expected.filter((h) => h.date === '2025-10-26')).toHaveLength(50);
  });

  it.each(HALF_HOURLY_LAYOUTS)('%s is detected and every half-hour lands at its UTC start', (layout) => {
    const outcome = importText(
      fixtureText(layout),
      'hh',
      layout === 'hh-octopus' ? { meterCode: METER } : {},
    );
    expect(outcome.name).toBe(layout);
    expect(outcome.errors).toEqual([]);
    const actual = outcome.readings
      .map((r) => ({
        meter: r.meterCode,
        date: r.settlementDate,
        period: r.period,
        start: iso(r.startUtcMs),
        kwh: r.kwh,
        type: r.type,
      }))
      .sort((a, b) => a.start.localeCompare(b.start));
    expect(actual).toEqual(
      expected.map((h) => ({
        meter: METER,
        date: h.date,
        period: h.period,
        start: iso(h.startUtcMs),
        kwh: h.kwh,
        type: FLAGGED.has(layout) ? h.type : 'actual',
      })),
    );
  });

  it('reads the two autumn 01:00 periods as 00:00Z (BST) and 01:00Z (GMT)', () => {
    const outcome = importText(fixtureText('hh-interval'));
    const autumn = outcome.readings.filter((r) => r.settlementDate === '2025-10-26');
    expect(autumn.slice(2, 6).map((r) => [r.period, iso(r.startUtcMs)])).toEqual([
      [3, '2025-10-26T00:00:00Z'],
      [4, '2025-10-26T00:30:00Z'],
      [5, '2025-10-26T01:00:00Z'],
      [6, '2025-10-26T01:30:00Z'],
    ]);
  });

  it('imports the daily fixture at each date’s local midnight with no period', () => {
    const outcome = importText(fixtureText('daily'), 'daily');
    expect(outcome.name).toBe('daily');
    expect(outcome.errors).toEqual([]);
    expect(outcome.readings.map((r) => [r.settlementDate, r.period, iso(r.startUtcMs)])).toEqual([
      ['2025-03-30', null, '2025-03-30T00:00:00Z'],
      ['2025-10-26', null, '2025-10-25T23:00:00Z'],
    ]);
  });
});
