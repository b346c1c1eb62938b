import { describe, expect, it } from 'vitest';
import type { Reading } from '../../../lib/imports/layouts/layout.js';
import { MAX_SNAPSHOT_TOKENS, QualityTally } from '../../../lib/imports/quality.js';
import { periodStartUtcMs, settlementDay } from '../../../lib/time/settlement-calendar.js';

function reading(
  date: string,
  period: number | null,
  type: Reading['type'] = 'actual',
  meter = 'M1',
): Reading {
  const day = settlementDay(date);
  if (day === null) throw new Error(date);
  return {
    meterCode: meter,
    settlementDate: date,
    period,
    startUtcMs: period === null ? day.midnightUtcMs : periodStartUtcMs(day, period),
    kwh: '1',
    type,
    unit: 'kWh',
  };
}

function fullDay(date: string, count: number, meter = 'M1'): Reading[] {
  return Array.from({ length: count }, (_, i) => reading(date, i + 1, 'actual', meter));
}

describe('QualityTally', () => {
  it('counts a day complete only when it has every one of its 46, 48 or 50 periods', () => {
    const tally = new QualityTally();
    for (const r of [
      ...fullDay('2025-03-30', 46),
      ...fullDay('2025-10-26', 50),
      ...fullDay('2025-06-01', 48),
      ...fullDay('2025-06-02', 47),
      ...fullDay('2025-10-26', 48, 'M2'),
    ]) {
      tally.add(r);
    }
    expect(tally.summary()).toEqual({
      meter_days: 5,
      complete_days: 3,
      missing_periods: 3,
      duplicates_in_file: 0,
      estimated: 0,
    });
  });

  it('counts the same meter and instant twice as one duplicate, the later flag winning', () => {
    const tally = new QualityTally();
    tally.add(reading('2025-10-26', 50, 'estimated'));
    tally.add(reading('2025-10-26', 50, 'actual', 'm1'));
    tally.add(reading('2025-10-26', 3, 'actual'));
    tally.add(reading('2025-10-26', 3, 'estimated'));
    expect(tally.summary()).toMatchObject({
      meter_days: 1,
      duplicates_in_file: 2,
      estimated: 1,
      missing_periods: 48,
    });
  });

  it('keeps daily readings apart from half-hourly ones and counts a daily day complete', () => {
    const tally = new QualityTally();
    tally.add(reading('2025-10-26', null));
    tally.add(reading('2025-10-26', null, 'estimated'));
    tally.add(reading('2025-10-26', 1));
    expect(tally.summary()).toEqual({
      meter_days: 2,
      complete_days: 1,
      missing_periods: 49,
      duplicates_in_file: 1,
      estimated: 1,
    });
  });

  it('carries on from a JSON snapshot', () => {
    const before = new QualityTally();
    for (const r of fullDay('2025-03-30', 20)) before.add(r);
    before.add(reading('2025-03-30', 5, 'estimated'));
    const resumed = new QualityTally(JSON.parse(JSON.stringify(before.snapshot())));
    for (const r of fullDay('2025-03-30', 46).slice(20)) resumed.add(r);
    resumed.add(reading('2025-03-30', 46, 'estimated'));
    expect(resumed.summary()).toEqual({
      meter_days: 1,
      complete_days: 1,
      missing_periods: 0,
      duplicates_in_file: 2,
      estimated: 2,
    });
  });

  it('snapshots a clean year of a meter as one run, and restores every day of it exactly', () => {
    const before = new QualityTally();
    for (let day = 0; day < 365; day++) {
      const date = new Date(Date.UTC(2025, 0, 1 + day)).toISOString().slice(0, 10);
      const count = settlementDay(date)?.periodCount ?? 48;
      for (const r of fullDay(date, count)) before.add(r);
    }
    before.add(reading('2025-12-31', 3, 'estimated'));
    const state = before.snapshot();
    expect(JSON.stringify(state).length).toBeLessThan(100);
    const resumed = new QualityTally(JSON.parse(JSON.stringify(state)));
    expect(resumed.summary()).toEqual(before.summary());
    expect(resumed.summary()).toMatchObject({ meter_days: 365, complete_days: 365, estimated: 1 });
    // Every restored period is present: giving any again is a duplicate.
    resumed.add(reading('2025-10-26', 50));
    resumed.add(reading('2025-03-30', 46));
    resumed.add(reading('2025-12-31', 3));
    expect(resumed.summary()).toMatchObject({ duplicates_in_file: 1 + 3, estimated: 0, missing_periods: 0 });
  });

  it('snapshots again only what changed, including a day the last reading before the snapshot was on', () => {
    const tally = new QualityTally();
    for (const r of fullDay('2025-06-01', 10)) tally.add(r);
    tally.add(reading('2025-06-01', 1, 'actual', 'M2'));
    tally.snapshot();
    for (const r of fullDay('2025-06-01', 48).slice(10)) tally.add(r);
    const restored = new QualityTally(JSON.parse(JSON.stringify(tally.snapshot())));
    expect(restored.summary()).toEqual(tally.summary());
    expect(restored.summary()).toMatchObject({ meter_days: 2, complete_days: 1, missing_periods: 47 });
  });

  it(`drops the days past ${MAX_SNAPSHOT_TOKENS} tokens, and a tally resumed from that says it is partial`, () => {
    const tally = new QualityTally();
    // One reading per meter-day: every day is its own token.
    for (let i = 0; i <= MAX_SNAPSHOT_TOKENS; i++) tally.add(reading('2025-06-01', 1, 'actual', `M${i}`));
    expect(tally.summary().partial).toBeUndefined();
    const state = tally.snapshot();
    expect(state).toEqual({ duplicates: 0, meters: [], partial: true });
    const resumed = new QualityTally(JSON.parse(JSON.stringify(state)));
    resumed.add(reading('2025-06-02', 1));
    expect(resumed.summary()).toEqual({
      meter_days: 1,
      complete_days: 0,
      missing_periods: 47,
      duplicates_in_file: 0,
      estimated: 0,
      partial: true,
    });
  });
});
