// A meter's readings as an SVG bar chart over every slot of the range (half-hours or settlement days
// in UK local time, see slots.ts), with missing slots drawn as hatched bands so gaps are seen, not
// hidden. Plain SVG: a charting library would cost more bytes than the whole console.

import { svg } from './dom.js';
import { type ChartModel, type Interval, londonOffsetMs, niceStep, type Slot } from './slots.js';

const WIDTH = 800;
const HEIGHT = 260;
const LEFT = 56;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 30;

export function renderChart(
  model: ChartModel,
  options: { interval: Interval; titleId: string; descId: string; title: string; description: string },
): SVGElement {
  const first = model.slots[0];
  const last = model.slots[model.slots.length - 1];
  const startMs = first?.startMs ?? 0;
  const spanMs = Math.max(1, (last?.endMs ?? 1) - startMs);
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const step = niceStep(model.maxKwh);
  const top = Math.max(step, Math.ceil(model.maxKwh / step) * step);
  const x = (ms: number) => LEFT + ((ms - startMs) / spanMs) * plotWidth;
  const y = (kwh: number) => TOP + plotHeight - (kwh / top) * plotHeight;

  const actual: string[] = [];
  const estimated: string[] = [];
  for (const slot of model.slots) {
    const reading = model.bySlot.get(slot.key);
    if (reading === undefined) continue;
    const left = x(slot.startMs);
    const width = Math.max(0.6, x(slot.endMs) - left - (model.slots.length > 400 ? 0 : 1));
    const barTop = y(Math.max(0, reading.kwh));
    const bar = `M${round(left)} ${round(TOP + plotHeight)}V${round(barTop)}h${round(width)}V${round(TOP + plotHeight)}z`;
    (reading.estimated ? estimated : actual).push(bar);
  }

  const children: SVGElement[] = [
    svg('title', { id: options.titleId }, options.title),
    svg('desc', { id: options.descId }, options.description),
    svg(
      'defs',
      {},
      svg(
        'pattern',
        {
          id: 'gap-hatch',
          width: 6,
          height: 6,
          patternUnits: 'userSpaceOnUse',
          patternTransform: 'rotate(45)',
        },
        svg('rect', { width: 6, height: 6, class: 'gap-back' }),
        svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, class: 'gap-line' }),
      ),
    ),
  ];
  for (const gap of model.gaps) {
    children.push(
      svg('rect', {
        class: 'gap',
        x: round(x(gap.fromMs)),
        y: TOP,
        width: round(Math.max(1.5, x(gap.toMs) - x(gap.fromMs))),
        height: plotHeight,
        fill: 'url(#gap-hatch)',
      }),
    );
  }
  for (let value = 0; value <= top + step / 2; value += step) {
    children.push(
      svg('line', { class: 'grid', x1: LEFT, x2: WIDTH - RIGHT, y1: round(y(value)), y2: round(y(value)) }),
      svg(
        'text',
        { class: 'tick', x: LEFT - 6, y: round(y(value) + 4), 'text-anchor': 'end' },
        formatKwh(value),
      ),
    );
  }
  children.push(...dayTicks(model.slots, x, TOP + plotHeight));
  if (actual.length > 0) children.push(svg('path', { class: 'bar', d: actual.join('') }));
  if (estimated.length > 0) children.push(svg('path', { class: 'bar estimated', d: estimated.join('') }));
  children.push(
    svg('text', { class: 'axis-label', x: 4, y: TOP + 10 }, 'kWh'),
    svg('line', { class: 'axis', x1: LEFT, x2: WIDTH - RIGHT, y1: TOP + plotHeight, y2: TOP + plotHeight }),
  );
  return svg(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-labelledby': `${options.titleId} ${options.descId}`,
    },
    ...children,
  );
}

const tickDate = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  day: 'numeric',
  month: 'short',
});

function dayTicks(slots: readonly Slot[], x: (ms: number) => number, baseline: number): SVGElement[] {
  const days: number[] = [];
  let lastDay = '';
  for (const slot of slots) {
    const day = new Date(slot.startMs + londonOffsetMs(slot.startMs)).toISOString().slice(0, 10);
    if (day !== lastDay) days.push(slot.startMs);
    lastDay = day;
  }
  const every = Math.max(1, Math.ceil(days.length / 8));
  const ticks: SVGElement[] = [];
  days.forEach((ms, index) => {
    if (index % every !== 0) return;
    const label = tickDate.format(new Date(ms));
    ticks.push(
      svg('line', { class: 'axis', x1: round(x(ms)), x2: round(x(ms)), y1: baseline, y2: baseline + 5 }),
      svg('text', { class: 'tick', x: round(x(ms)) + 2, y: baseline + 18 }, label),
    );
  });
  return ticks;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function formatKwh(value: number): string {
  return value >= 1000 ? `${(value / 1000).toLocaleString()}k` : value.toLocaleString();
}
