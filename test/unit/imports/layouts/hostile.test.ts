// Every stored fixture, hostile ones included, through the registry for every import type: a plan or
// a file-format error, never anything else; and a plan's mapper never throws on the file's records.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CsvFormatError, parseCsvText } from '../../../../lib/imports/csv-reader.js';
import { FileFormatError } from '../../../../lib/imports/formats.js';
import { resolveLayout } from '../../../../lib/imports/layouts/registry.js';
import { AmbiguousTimeTracker } from '../../../../lib/time/wall-clock.js';

const DIRS = ['hostile', 'imports', 'layouts'];
const files = DIRS.flatMap((dir) => {
  const url = new URL(`../../../fixtures/${dir}/`, import.meta.url);
  return readdirSync(fileURLToPath(url))
    .filter((name) => !name.endsWith('.ts'))
    .map((name) => [`${dir}/${name}`, fileURLToPath(new URL(name, url))] as const);
});

describe('the registry on every fixture', () => {
  it.each(files)(
    '%s gives a plan or a file-format error, and its records map without throwing',
    (_, path) => {
      let records: string[][];
      try {
        records = parseCsvText(readFileSync(path), { isTruncated: false }).records.map((r) => r.fields);
      } catch (error) {
        expect(error).toBeInstanceOf(CsvFormatError);
        return;
      }
      const [header, ...rows] = records;
      if (header === undefined) return;
      for (const importType of ['hh', 'daily', 'sites'] as const) {
        for (const meterCode of [undefined, 'E1']) {
          let plan: ReturnType<typeof resolveLayout>;
          try {
            plan = resolveLayout(importType, header, { meterCode });
          } catch (error) {
            expect(error).toBeInstanceOf(FileFormatError);
            continue;
          }
          const map =
            plan.kind === 'readings'
              ? plan.compile({ meterCode: meterCode ?? null, tracker: new AmbiguousTimeTracker() })
              : plan.compile();
          for (const fields of rows) expect(['rows', 'site', 'error', 'blank']).toContain(map(fields).kind);
        }
      }
    },
  );

  it.each([
    ['imports/hh-interval.csv', 'hh', 'hh-interval'],
    ['imports/hh-matrix.csv', 'hh', 'hh-matrix'],
    ['imports/daily.csv', 'daily', 'daily'],
    ['imports/daily-excel-semicolon.csv', 'daily', 'daily'],
    ['imports/sites.csv', 'sites', 'sites'],
  ] as const)('reads the existing fixture %s as %s layout %s', (name, importType, layout) => {
    const path = files.find(([file]) => file === name)?.[1] ?? '';
    const header = parseCsvText(readFileSync(path), { isTruncated: false }).records[0]?.fields ?? [];
    expect(resolveLayout(importType, header).name).toBe(layout);
  });
});
