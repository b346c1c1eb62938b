import { describe, expect, it } from 'vitest';
import { nextDelayMs } from '../../../console/src/poll-delay.js';
import {
  buildModel,
  londonMidnightUtcMs,
  niceStep,
  type Reading,
  rangeSlots,
} from '../../../console/src/slots.js';

const hh = (date: string, period: number, kwh = 1, estimated = false): Reading => ({
  settlementDate: date,
  period,
  startMs: londonMidnightUtcMs(date) + (period - 1) * 30 * 60_000,
  kwh,
  estimated,
});

describe('UK days in the chart', () => {
  it('puts midnight at 00:00 UTC in winter and 23:00 UTC the day before in summer', () => {
    expect(new Date(londonMidnightUtcMs('2024-11-05')).toISOString()).toBe('2024-11-05T00:00:00.000Z');
    expect(new Date(londonMidnightUtcMs('2024-07-01')).toISOString()).toBe('2024-06-30T23:00:00.000Z');
  });

  it('has 46 half-hours on the spring clock change, 50 on the autumn one, 48 otherwise', () => {
    expect(rangeSlots('2024-03-31', '2024-03-31', 'hh')).toHaveLength(46);
    expect(rangeSlots('2024-10-27', '2024-10-27', 'hh')).toHaveLength(50);
    expect(rangeSlots('2024-11-05', '2024-11-05', 'hh')).toHaveLength(48);
    expect(rangeSlots('2024-10-26', '2024-10-28', 'daily').map((slot) => slot.key)).toEqual([
      '2024-10-26',
      '2024-10-27',
      '2024-10-28',
    ]);
  });
});

describe('buildModel', () => {
  it('counts present, estimated and missing slots and merges neighbouring gaps', () => {
    const readings = [1, 2, 5, 6, 48].map((period) => hh('2024-11-05', period, period, period === 6));
    const model = buildModel(readings, '2024-11-05', '2024-11-05', 'hh');
    expect(model.present).toBe(5);
    expect(model.estimated).toBe(1);
    expect(model.maxKwh).toBe(48);
    expect(model.gaps.map((gap) => [new Date(gap.fromMs).toISOString().slice(11, 16), gap.slots])).toEqual([
      ['01:00', 2],
      ['03:00', 41],
    ]);
  });

  it('shows a whole missing range as one gap, never as an empty chart that looks complete', () => {
    const model = buildModel([], '2024-11-05', '2024-11-06', 'hh');
    expect(model.present).toBe(0);
    expect(model.gaps).toEqual([
      { fromMs: Date.parse('2024-11-05T00:00:00Z'), toMs: Date.parse('2024-11-07T00:00:00Z'), slots: 96 },
    ]);
  });

  it('matches daily readings by settlement date', () => {
    const daily: Reading = {
      settlementDate: '2024-07-02',
      period: null,
      startMs: 0,
      kwh: 12,
      estimated: false,
    };
    const model = buildModel([daily], '2024-07-01', '2024-07-03', 'daily');
    expect(model.present).toBe(1);
    expect(model.gaps.map((gap) => gap.slots)).toEqual([1, 1]);
  });
});

describe('chart scale and polling', () => {
  it('steps the kWh axis by 1, 2 or 5 times a power of ten', () => {
    expect([0, 1.7, 4, 9, 48, 730].map(niceStep)).toEqual([1, 0.5, 1, 5, 20, 200]);
  });

  it('polls quickly after a change, backs off to 10 s while nothing changes, and waits a minute when hidden', () => {
    expect(nextDelayMs(5000, true, false)).toBe(1000);
    expect(nextDelayMs(1000, false, false)).toBe(1500);
    expect(nextDelayMs(9000, false, false)).toBe(10_000);
    expect(nextDelayMs(1000, true, true)).toBe(60_000);
    expect(nextDelayMs(25_000, false, false, 30_000)).toBe(30_000);
  });
});
