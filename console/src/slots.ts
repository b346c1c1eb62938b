// The pure side of the readings chart: UK settlement days as UTC instants, the slots of a range
// (46, 48 or 50 half-hours a day, or whole days), which of them hold a reading, and where the gaps are.
// No DOM here, so the rules are unit-tested in Node.

export type Reading = {
  readonly settlementDate: string;
  readonly period: number | null;
  readonly startMs: number;
  readonly kwh: number;
  readonly estimated: boolean;
};

export type Interval = 'hh' | 'daily';

export type Slot = { readonly startMs: number; readonly endMs: number; readonly key: string };

export type Gap = { readonly fromMs: number; readonly toMs: number; readonly slots: number };

export type ChartModel = {
  readonly slots: readonly Slot[];
  readonly bySlot: ReadonlyMap<string, Reading>;
  readonly gaps: readonly Gap[];
  readonly present: number;
  readonly estimated: number;
  readonly maxKwh: number;
};

const HALF_HOUR_MS = 30 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

const londonParts = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});

/** UK local time minus UTC at this instant (0 in winter, one hour in summer). */
export function londonOffsetMs(utcMs: number): number {
  const parts: Record<string, number> = {};
  for (const part of londonParts.formatToParts(new Date(utcMs))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const local = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
  );
  return local - Math.floor(utcMs / 60_000) * 60_000;
}

/** The UTC instant of midnight in the UK on this date (midnight is never inside a clock change). */
export function londonMidnightUtcMs(date: string): number {
  const [year = 1970, month = 1, day = 1] = date.split('-').map(Number);
  const naive = Date.UTC(year, month - 1, day);
  const first = naive - londonOffsetMs(naive);
  return naive - londonOffsetMs(first);
}

export function addDays(date: string, days: number): string {
  const [year = 1970, month = 1, day = 1] = date.split('-').map(Number);
  return new Date(Date.UTC(year, month - 1, day) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Every slot from the start of `from` to the end of `to` (UK days): 46, 48 or 50 half-hours a day. */
export function rangeSlots(from: string, to: string, interval: Interval): Slot[] {
  const slots: Slot[] = [];
  for (let date = from; date <= to; date = addDays(date, 1)) {
    const startMs = londonMidnightUtcMs(date);
    const endMs = londonMidnightUtcMs(addDays(date, 1));
    if (interval === 'daily') {
      slots.push({ startMs, endMs, key: date });
      continue;
    }
    for (let slotMs = startMs; slotMs < endMs; slotMs += HALF_HOUR_MS) {
      slots.push({ startMs: slotMs, endMs: slotMs + HALF_HOUR_MS, key: String(slotMs) });
    }
  }
  return slots;
}

export function slotKey(reading: Reading, interval: Interval): string {
  return interval === 'daily' ? reading.settlementDate : String(reading.startMs);
}

export function buildModel(
  readings: readonly Reading[],
  from: string,
  to: string,
  interval: Interval,
): ChartModel {
  const slots = rangeSlots(from, to, interval);
  const bySlot = new Map<string, Reading>();
  for (const reading of readings) bySlot.set(slotKey(reading, interval), reading);
  const gaps: Gap[] = [];
  let present = 0;
  let estimated = 0;
  let maxKwh = 0;
  let open: { fromMs: number; toMs: number; slots: number } | null = null;
  for (const slot of slots) {
    const reading = bySlot.get(slot.key);
    if (reading === undefined) {
      if (open === null) open = { fromMs: slot.startMs, toMs: slot.endMs, slots: 1 };
      else {
        open.toMs = slot.endMs;
        open.slots++;
      }
      continue;
    }
    if (open !== null) gaps.push(open);
    open = null;
    present++;
    if (reading.estimated) estimated++;
    maxKwh = Math.max(maxKwh, reading.kwh);
  }
  if (open !== null) gaps.push(open);
  return { slots, bySlot, gaps, present, estimated, maxKwh };
}

/** A scale's step: 1, 2 or 5 × a power of ten, giving about four ticks. */
export function niceStep(max: number): number {
  if (!(max > 0)) return 1;
  const raw = max / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}
