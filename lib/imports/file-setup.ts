// The set-up stage of an import: from a file's header row to its layout in the registry (layouts/),
// the column mapping its summary reports, and the mapper for its data records. The processor's row
// loop and finish only see a PreparedFile.

import { AmbiguousTimeTracker } from '../time/wall-clock.js';
import type { CsvRecord } from './csv-reader.js';
import { type ColumnMapping, noHeaderError } from './formats.js';
import type { ImportType } from './job.js';
import type { LayoutName } from './layouts/layout.js';
import { parseFormatName, parseMeterParameter, resolveLayout } from './layouts/registry.js';
import type { RecordMapper } from './rows.js';

export type PreparedFile = {
  /** The layout's name, reported as the summary's `meta.format`. */
  readonly layoutName: LayoutName;
  readonly columnMapping: ColumnMapping;
  readonly mapRecord: RecordMapper;
};

export type FileRequest = {
  /** The job's `format` (metadata.format): a layout name to use instead of detecting. */
  readonly format?: string | undefined;
  /** The job's `meter` (metadata.meter), for files with no meter column. */
  readonly meterCode?: string | undefined;
  /** Holds the autumn hour's occurrences per meter for the whole job (resumed runs included). */
  readonly tracker?: AmbiguousTimeTracker;
};

/**
 * The layout of a file from its header fields; a FileFormatError (a LayoutError when the headers fit
 * no layout, several, or disagree with the request's meter) when the header cannot serve the type.
 */
export function prepareFile(
  importType: ImportType,
  header: readonly string[],
  request: FileRequest = {},
): PreparedFile {
  // The API validated both on upload; a job queued another way is checked the same here.
  const meterCode = parseMeterParameter(request.meterCode);
  const plan = resolveLayout(importType, header, {
    format: parseFormatName(importType, request.format),
    meterCode,
  });
  const mapRecord: RecordMapper =
    plan.kind === 'sites'
      ? plan.compile()
      : plan.compile({
          meterCode: meterCode ?? null,
          tracker: request.tracker ?? new AmbiguousTimeTracker(),
        });
  return { layoutName: plan.name, columnMapping: plan.columnMapping, mapRecord };
}

/**
 * Reads up to the header record and prepares the file from it; `firstRecords` are the data records
 * that came in the header's batch. A file without any record fails with noHeaderError().
 */
export async function setUpFile(
  importType: ImportType,
  batches: AsyncIterator<CsvRecord[]>,
  request: FileRequest = {},
): Promise<{ file: PreparedFile; firstRecords: CsvRecord[] }> {
  for (;;) {
    const next = await batches.next();
    if (next.done === true) throw noHeaderError();
    const [header, ...firstRecords] = next.value;
    if (header !== undefined) {
      return { file: prepareFile(importType, header.fields, request), firstRecords };
    }
  }
}
