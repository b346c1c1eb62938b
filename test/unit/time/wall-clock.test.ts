import { describe, expect, it } from 'vitest';
import { formatUtcIso, HOUR_MS, settlementDay } from '../../../lib/time/settlement-calendar.js';
import {
  AmbiguousTimeTracker,
  instantAtOffset,
  type LocalTimeResolution,
  resolveLocalTime,
} from '../../../lib/time/wall-clock.js';

function day(date: string) {
  const result = settlementDay(date);
  if (result === null) throw new Error(`not a settlement day: ${date}`);
  return result;
}

const at = (hh: number, mm: number) => (hh * 60 + mm) * 60_000;

function uniqueIso(resolution: LocalTimeResolution): string {
  if (resolution.kind !== 'unique') throw new Error(`expected a unique time, got ${resolution.kind}`);
  return formatUtcIso(resolution.utcMs);
}

describe('resolveLocalTime', () => {
  it.each([
    ['2025-01-15', 0, 0, '2025-01-15T00:00:00Z'],
    ['2025-07-01', 0, 0, '2025-06-30T23:00:00Z'],
    ['2025-07-01', 13, 30, '2025-07-01T12:30:00Z'],
    ['2025-03-30', 0, 30, '2025-03-30T00:30:00Z'],
    ['2025-03-30', 2, 0, '2025-03-30T01:00:00Z'],
    ['2025-03-30', 23, 30, '2025-03-30T22:30:00Z'],
    ['2025-10-26', 0, 30, '2025-10-25T23:30:00Z'],
    ['2025-10-26', 2, 0, '2025-10-26T02:00:00Z'],
    ['2026-03-29', 3, 0, '2026-03-29T02:00:00Z'],
    ['2026-10-25', 0, 0, '2026-10-24T23:00:00Z'],
    ['2026-10-25', 2, 30, '2026-10-25T02:30:00Z'],
  ])('puts %s %i:%i at %s', (date, hh, mm, expected) => {
    expect(uniqueIso(resolveLocalTime(day(date), at(hh, mm)))).toBe(expected);
  });

  it.each([
    ['2025-03-30', 1, 0],
    ['2025-03-30', 1, 59],
    ['2026-03-29', 1, 30],
  ])('refuses %s %i:%i, naming the clock change', (date, hh, mm) => {
    const resolution = resolveLocalTime(day(date), at(hh, mm));
    expect(resolution.kind).toBe('nonexistent');
    if (resolution.kind !== 'nonexistent') return;
    expect(resolution.message).toBe(
      `Local time ${date} 0${hh}:${String(mm).padStart(2, '0')} does not exist: UK clocks go forward from 01:00 GMT to 02:00 BST on ${date}`,
    );
  });

  it.each([
    ['2025-10-26', '2025-10-26T00:00:00Z', '2025-10-26T01:00:00Z'],
    ['2026-10-25', '2026-10-25T00:00:00Z', '2026-10-25T01:00:00Z'],
  ])('gives both instants of %s 01:00', (date, bst, gmt) => {
    const resolution = resolveLocalTime(day(date), at(1, 0));
    expect(resolution.kind).toBe('ambiguous');
    if (resolution.kind !== 'ambiguous') return;
    expect(formatUtcIso(resolution.bstUtcMs)).toBe(bst);
    expect(formatUtcIso(resolution.gmtUtcMs)).toBe(gmt);
    expect(resolution.gmtUtcMs - resolution.bstUtcMs).toBe(HOUR_MS);
  });

  it('treats 01:59:59 on the autumn day as ambiguous and 02:00 as GMT', () => {
    expect(resolveLocalTime(day('2025-10-26'), at(1, 59) + 59_000).kind).toBe('ambiguous');
    expect(resolveLocalTime(day('2025-10-26'), at(2, 0)).kind).toBe('unique');
  });
});

describe('instantAtOffset', () => {
  it('honours Z and explicit offsets, so the two autumn 01:00s are different instants', () => {
    const autumn = day('2025-10-26');
    expect(formatUtcIso(instantAtOffset(autumn, at(1, 0), 60))).toBe('2025-10-26T00:00:00Z');
    expect(formatUtcIso(instantAtOffset(autumn, at(1, 0), 0))).toBe('2025-10-26T01:00:00Z');
    expect(formatUtcIso(instantAtOffset(day('2025-07-01'), at(9, 0), -300))).toBe('2025-07-01T14:00:00Z');
  });
});

describe('AmbiguousTimeTracker', () => {
  const autumn = day('2025-10-26');
  const ambiguous = resolveLocalTime(autumn, at(1, 30));

  it('takes the first occurrence as BST, the second as GMT, and refuses a third', () => {
    const tracker = new AmbiguousTimeTracker();
    const first = tracker.resolve('M1', ambiguous);
    const second = tracker.resolve('M1', ambiguous);
    const third = tracker.resolve('M1', ambiguous);
    expect(first.ok && formatUtcIso(first.utcMs)).toBe('2025-10-26T00:30:00Z');
    expect(second.ok && formatUtcIso(second.utcMs)).toBe('2025-10-26T01:30:00Z');
    expect(third).toEqual({
      ok: false,
      reason:
        'Local time 2025-10-26 01:30 appears a third time for this meter; it happens only twice (BST, then GMT)',
    });
  });

  it('counts each meter and each time separately', () => {
    const tracker = new AmbiguousTimeTracker();
    const other = resolveLocalTime(autumn, at(1, 0));
    const a = tracker.resolve('M1', ambiguous);
    const b = tracker.resolve('M2', ambiguous);
    const c = tracker.resolve('M1', other);
    expect([a, b, c].map((r) => r.ok && formatUtcIso(r.utcMs))).toEqual([
      '2025-10-26T00:30:00Z',
      '2025-10-26T00:30:00Z',
      '2025-10-26T00:00:00Z',
    ]);
  });

  it('passes unique times through and turns a nonexistent one into a reason, remembering neither', () => {
    const tracker = new AmbiguousTimeTracker();
    expect(tracker.resolve('M1', { kind: 'unique', utcMs: 5 })).toEqual({ ok: true, utcMs: 5 });
    const gap = resolveLocalTime(day('2025-03-30'), at(1, 0));
    const result = tracker.resolve('M1', gap);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/clocks go forward/);
    expect(tracker.snapshot()).toEqual([]);
  });

  it('carries on from a snapshot, so a resumed run still sees the second occurrence as GMT', () => {
    const before = new AmbiguousTimeTracker();
    before.resolve('M1', ambiguous);
    const resumed = new AmbiguousTimeTracker(JSON.parse(JSON.stringify(before.snapshot())));
    const second = resumed.resolve('M1', ambiguous);
    expect(second.ok && formatUtcIso(second.utcMs)).toBe('2025-10-26T01:30:00Z');
  });
});
