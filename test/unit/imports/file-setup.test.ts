import { describe, expect, it } from 'vitest';
import { readCsvRecordBatches } from '../../../lib/imports/csv-reader.js';
import { setUpFile } from '../../../lib/imports/file-setup.js';
import { FileFormatError } from '../../../lib/imports/formats.js';

async function* chunks(...texts: string[]): AsyncGenerator<string> {
  for (const text of texts) yield text;
}

describe('setUpFile', () => {
  it('names the layout, maps its columns, and hands back the records read with the header', async () => {
    const batches = readCsvRecordBatches(chunks('MPAN,Date,Reading\nE1,2024-01-01,1\n'));
    const { file, firstRecords } = await setUpFile('daily', batches);
    expect(file.layoutName).toBe('daily');
    expect(file.columnMapping).toEqual({ meter: 'MPAN', date: 'Date', value: 'Reading' });
    expect(firstRecords.map((record) => file.mapRecord(record.fields).kind)).toEqual(['rows']);
  });

  it('maps sites and readings through the one record mapper', async () => {
    const { file } = await setUpFile('sites', readCsvRecordBatches(chunks('name\n')));
    expect(file.mapRecord(['Depot'])).toMatchObject({ kind: 'site', site: { name: 'Depot' } });
    expect(file.mapRecord([' '])).toEqual({ kind: 'blank' });
  });

  it('fails a file without any record as having no header', async () => {
    await expect(setUpFile('hh', readCsvRecordBatches(chunks('')))).rejects.toMatchObject({
      code: 'no-header',
    });
  });

  it('fails a header that cannot serve the import type', async () => {
    const setUp = setUpFile('hh', readCsvRecordBatches(chunks('Date,Value\n')));
    await expect(setUp).rejects.toBeInstanceOf(FileFormatError);
  });
});
