// `npx tsx bench/layouts.ts`: the cost of reading records into UTC-placed readings with the layout
// registry (lib/imports/layouts), on parsed records in one process: long and wide files of
// BENCH_METERS meters × 31 days of October 2025 (the autumn clock change included). Prints readings/s
// per format. (The old local-time mappers it was first compared with are gone: the new ones ran at
// about 0.6-0.75x their rate on long files and 0.9x on wide ones.)

import { parseCsvText } from '../lib/imports/csv-reader.js';
import { resolveLayout } from '../lib/imports/layouts/registry.js';
import { AmbiguousTimeTracker } from '../lib/time/wall-clock.js';
import { median } from './stats.js';

const METERS = Number(process.env.BENCH_METERS ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local wall-clock half-hours of October 2025: 48 a day (the 26th's second 01:00 hour left out). */
function longText(): string {
  const lines = ['MPAN,ReadDateTime,ReadValue,Unit,ReadingType'];
  for (let m = 0; m < METERS; m++) {
    for (let d = 1; d <= 31; d++) {
      for (let p = 0; p < 48; p++) {
        lines.push(
          `E${1000 + m},2025-10-${pad(d)} ${pad(p >> 1)}:${p % 2 ? '30' : '00'}:00,${(p % 9) + 0.25},kWh,A`,
        );
      }
    }
  }
  return lines.join('\n');
}

function wideText(): string {
  const head = Array.from({ length: 48 }, (_, i) => `HH${pad(i + 1)}`).join(',');
  const lines = [`MPAN,Date,${head}`];
  const values = Array.from({ length: 48 }, (_, i) => String((i % 9) + 0.25)).join(',');
  for (let m = 0; m < METERS; m++) {
    for (let d = 1; d <= 31; d++) lines.push(`E${1000 + m},${pad(d)}/10/2025,${values}`);
  }
  return lines.join('\n');
}

function time(records: readonly (readonly string[])[], map: (fields: readonly string[]) => number): number {
  const started = process.hrtime.bigint();
  let readings = 0;
  for (const fields of records) readings += map(fields);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return readings / (ms / 1000);
}

for (const [name, text] of [
  ['long (hh-interval)', longText()],
  ['wide (hh-matrix)', wideText()],
] as const) {
  const [header, ...rows] = parseCsvText(text, { isTruncated: false }).records.map((r) => r.fields);
  if (header === undefined) throw new Error('no header');
  const plan = resolveLayout('hh', header);
  if (plan.kind !== 'readings') throw new Error('not a readings layout');
  const newRates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const newMap = plan.compile({ meterCode: null, tracker: new AmbiguousTimeTracker() });
    newRates.push(
      time(rows, (fields) => {
        const result = newMap(fields);
        return result.kind === 'rows' ? result.rows.length : 0;
      }),
    );
  }
  const newRate = median(newRates);
  console.log(`${name}: ${rows.length} records; ${Math.round(newRate).toLocaleString('en-GB')} readings/s`);
}
