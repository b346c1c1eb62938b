// The readings panel: a meter and a date range in, its slots out as a chart with the gaps marked, a
// one-line account of what is present, missing and estimated, and the readings as a table.

import { ApiError, apiJson, isRecord, messageOf } from './api.js';
import { renderChart } from './chart.js';
import { byId, fill, formatNumber, h } from './dom.js';
import { addDays, buildModel, type ChartModel, type Interval, type Reading } from './slots.js';

/** The API caps a page at 10,000 readings; a year of half-hours is under 18,000. */
const PAGE_LIMIT = 10_000;
const MAX_PAGES = 4;
const GAPS_LISTED = 5;
const TABLE_ROWS = 500;

export class ReadingsPanel {
  private readonly form = byId('readings-form', HTMLFormElement);
  private readonly meter = byId('readings-meter', HTMLInputElement);
  private readonly from = byId('readings-from', HTMLInputElement);
  private readonly to = byId('readings-to', HTMLInputElement);
  private readonly interval = byId('readings-interval', HTMLSelectElement);
  private readonly status = byId('readings-status', HTMLElement);
  private readonly output = byId('readings-output', HTMLElement);

  constructor() {
    const today = new Date().toISOString().slice(0, 10);
    this.from.value = addDays(today, -7);
    this.to.value = addDays(today, -1);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.show();
    });
  }

  clear(): void {
    this.output.replaceChildren();
    this.status.textContent = '';
  }

  private async show(): Promise<void> {
    const meter = this.meter.value.trim();
    const from = this.from.value;
    const to = this.to.value;
    const interval: Interval = this.interval.value === 'daily' ? 'daily' : 'hh';
    if (meter === '' || from === '' || to === '') {
      this.status.textContent = 'Enter a meter, a start date and an end date.';
      return;
    }
    if (to < from) {
      this.status.textContent = 'The end date is before the start date.';
      return;
    }
    this.status.textContent = 'Loading readings…';
    this.output.replaceChildren();
    try {
      const readings = await fetchReadings(meter, from, to, interval);
      const model = buildModel(readings.list, from, to, interval);
      this.status.textContent = describe(model, interval, readings.truncated);
      this.render(model, meter, from, to, interval);
    } catch (error) {
      this.status.textContent = messageOf(error);
    }
  }

  private render(model: ChartModel, meter: string, from: string, to: string, interval: Interval): void {
    const unit = interval === 'hh' ? 'half-hour' : 'day';
    const gapsListed = model.gaps.slice(0, GAPS_LISTED);
    fill(
      this.output,
      h(
        'figure',
        { class: 'chart-figure' },
        renderChart(model, {
          interval,
          titleId: 'chart-title',
          descId: 'chart-desc',
          title: `${meter}: kWh per ${unit}, ${from} to ${to}`,
          description: describe(model, interval, false),
        }),
        h(
          'figcaption',
          {},
          h('span', { class: 'key key-actual' }, 'actual'),
          h('span', { class: 'key key-estimated' }, 'estimated'),
          h('span', { class: 'key key-gap' }, 'missing'),
        ),
      ),
      gapsListed.length === 0
        ? null
        : h(
            'div',
            { class: 'gaps' },
            h('h3', {}, 'Gaps'),
            h(
              'ul',
              {},
              ...gapsListed.map((gap) =>
                h(
                  'li',
                  {},
                  `${formatUk(gap.fromMs)} to ${formatUk(gap.toMs)} (${gap.slots} ${unit}${gap.slots === 1 ? '' : 's'})`,
                ),
              ),
              model.gaps.length > GAPS_LISTED
                ? h('li', {}, `and ${model.gaps.length - GAPS_LISTED} more`)
                : null,
            ),
          ),
      readingsTable(model),
    );
  }
}

async function fetchReadings(
  meter: string,
  from: string,
  to: string,
  interval: Interval,
): Promise<{ list: Reading[]; truncated: boolean }> {
  const list: Reading[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const { body } = await apiJson('GET', `/api/meters/${encodeURIComponent(meter)}/readings`, {
      query: { from, to, interval, limit: PAGE_LIMIT, cursor },
    });
    if (!Array.isArray(body.readings)) throw new ApiError(502, 'The API answered without readings', {});
    for (const entry of body.readings) {
      const reading = parseReading(entry);
      if (reading !== null) list.push(reading);
    }
    if (typeof body.next_cursor !== 'string') return { list, truncated: false };
    cursor = body.next_cursor;
  }
  return { list, truncated: true };
}

function parseReading(value: unknown): Reading | null {
  if (!isRecord(value) || typeof value.start !== 'string' || typeof value.settlement_date !== 'string')
    return null;
  const startMs = Date.parse(value.start);
  const kwh = typeof value.kwh === 'number' ? value.kwh : Number.parseFloat(String(value.kwh));
  if (Number.isNaN(startMs) || !Number.isFinite(kwh)) return null;
  return {
    settlementDate: value.settlement_date,
    period: typeof value.period === 'number' ? value.period : null,
    startMs,
    kwh,
    estimated: value.type === 'estimated',
  };
}

function describe(model: ChartModel, interval: Interval, truncated: boolean): string {
  const unit = interval === 'hh' ? 'half-hours' : 'days';
  const missing = model.slots.length - model.present;
  const parts = [
    `${formatNumber(model.present)} of ${formatNumber(model.slots.length)} ${unit} have a reading`,
  ];
  if (missing > 0) {
    parts.push(
      `${formatNumber(missing)} missing in ${model.gaps.length} gap${model.gaps.length === 1 ? '' : 's'}`,
    );
  }
  if (model.estimated > 0) parts.push(`${formatNumber(model.estimated)} estimated`);
  return (
    `${parts.join('; ')}.` +
    (truncated ? ' Only the first 40,000 readings are shown: choose a shorter range.' : '')
  );
}

const ukTime = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  dateStyle: 'medium',
  timeStyle: 'short',
});

function formatUk(ms: number): string {
  return ukTime.format(new Date(ms));
}

function readingsTable(model: ChartModel): HTMLElement | null {
  if (model.present === 0) return null;
  const rows: HTMLElement[] = [];
  for (const slot of model.slots) {
    const reading = model.bySlot.get(slot.key);
    if (reading === undefined) continue;
    if (rows.length >= TABLE_ROWS) break;
    rows.push(
      h(
        'tr',
        {},
        h('td', {}, reading.settlementDate),
        h('td', {}, reading.period ?? '–'),
        h('td', {}, formatUk(reading.startMs)),
        h('td', { class: 'num' }, reading.kwh.toLocaleString(undefined, { maximumFractionDigits: 4 })),
        h('td', {}, reading.estimated ? 'estimated' : 'actual'),
      ),
    );
  }
  return h(
    'details',
    {},
    h('summary', {}, `Readings as a table${model.present > TABLE_ROWS ? ` (first ${TABLE_ROWS})` : ''}`),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Settlement date', 'Period', 'Start (UK)', 'kWh', 'Type'].map((name) =>
              h('th', { scope: 'col' }, name),
            ),
          ),
        ),
        h('tbody', {}, ...rows),
      ),
    ),
  );
}
