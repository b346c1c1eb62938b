// The set-up stage of an import: from a file's header row to the name of its layout, the column
// mapping its summary reports, and the mapper for its data records. Layout detection is swapped by
// replacing prepareFile alone; the processor's row loop and finish only see a PreparedFile.

import type { CsvRecord } from './csv-reader.js';
import { type ColumnMapping, detectLayout, noHeaderError } from './formats.js';
import type { ImportType } from './job.js';
import { compileRecordMapper, type RecordMapper } from './rows.js';

export type PreparedFile = {
  /** The layout's name, reported as the summary's `meta.format`. */
  readonly layoutName: string;
  readonly columnMapping: ColumnMapping;
  readonly mapRecord: RecordMapper;
};

/** The layout of a file from its header fields; a FileFormatError when the header cannot serve the type. */
export function prepareFile(importType: ImportType, header: readonly string[]): PreparedFile {
  const layout = detectLayout(importType, header);
  return {
    layoutName: layout.format,
    columnMapping: layout.columnMapping,
    mapRecord: compileRecordMapper(layout),
  };
}

/**
 * Reads up to the header record and prepares the file from it; `firstRecords` are the data records
 * that came in the header's batch. A file without any record fails with noHeaderError().
 */
export async function setUpFile(
  importType: ImportType,
  batches: AsyncIterator<CsvRecord[]>,
): Promise<{ file: PreparedFile; firstRecords: CsvRecord[] }> {
  for (;;) {
    const next = await batches.next();
    if (next.done === true) throw noHeaderError();
    const [header, ...firstRecords] = next.value;
    if (header !== undefined) return { file: prepareFile(importType, header.fields), firstRecords };
  }
}
