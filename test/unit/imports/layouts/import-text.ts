// Test helper: a whole CSV text through the registry and a mapper, as the processor will run it.
import { parseCsvText } from '../../../../lib/imports/csv-reader.js';
import type { ImportType } from '../../../../lib/imports/job.js';
import type { LayoutName, Reading } from '../../../../lib/imports/layouts/layout.js';
import { type ResolveOptions, resolveLayout } from '../../../../lib/imports/layouts/registry.js';
import { AmbiguousTimeTracker } from '../../../../lib/time/wall-clock.js';

export type TextOutcome = { name: LayoutName; readings: Reading[]; errors: string[]; blank: number };

export function importText(
  text: string,
  importType: ImportType = 'hh',
  options: ResolveOptions = {},
): TextOutcome {
  const { records } = parseCsvText(text, { isTruncated: false });
  const [header, ...rows] = records;
  if (header === undefined) throw new Error('no header');
  const plan = resolveLayout(importType, header.fields, options);
  if (plan.kind !== 'readings') throw new Error('not a readings layout');
  const map = plan.compile({ meterCode: options.meterCode ?? null, tracker: new AmbiguousTimeTracker() });
  const outcome: TextOutcome = { name: plan.name, readings: [], errors: [], blank: 0 };
  rows.forEach((record, index) => {
    const result = map(record.fields);
    if (result.kind === 'rows') outcome.readings.push(...result.rows);
    else if (result.kind === 'error') outcome.errors.push(`Row ${index + 1}: ${result.message}`);
    else outcome.blank++;
  });
  return outcome;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
