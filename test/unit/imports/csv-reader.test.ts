import { describe, expect, it } from 'vitest';
import type { CsvReaderOptions, CsvRecord } from '../../../lib/imports/csv-reader.js';
import {
  CsvFormatError,
  detectDelimiter,
  lineAfter,
  parseCsvText,
  readCsvRecordBatches,
  readCsvRecords,
} from '../../../lib/imports/csv-reader.js';

async function* chunksOf(chunks: readonly (string | Uint8Array)[]): AsyncGenerator<string | Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

async function readAll(
  chunks: readonly (string | Uint8Array)[],
  options: CsvReaderOptions = {},
): Promise<CsvRecord[]> {
  const records: CsvRecord[] = [];
  for await (const record of readCsvRecords(chunksOf(chunks), options)) records.push(record);
  return records;
}

async function readError(chunks: readonly (string | Uint8Array)[], options: CsvReaderOptions = {}) {
  try {
    await readAll(chunks, options);
  } catch (error) {
    if (error instanceof CsvFormatError) return error;
    throw error;
  }
  throw new Error('expected a CsvFormatError');
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** The text cut into pieces of `size` bytes, so cuts land inside characters, quotes and CRLFs. */
function byteChunks(text: string, size: number): Uint8Array[] {
  const all = bytes(text);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < all.length; i += size) chunks.push(all.subarray(i, i + size));
  return chunks;
}

function simplify(records: readonly CsvRecord[]): [number, string[]][] {
  return records.map((record) => [record.lineNumber, record.fields]);
}

/** Small deterministic PRNG (mulberry32) so the generated cases are the same on every run. */
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('detectDelimiter', () => {
  it.each([
    ['MPAN,Date,Reading', ','],
    ['MPAN\tDate\tReading', '\t'],
    ['MPAN;Date;Reading', ';'],
    ['MPAN|Date|Reading', '|'],
    ['a;b;c,d', ';'],
  ])('picks the most frequent delimiter in %j', (line, expected) => {
    expect(detectDelimiter(line)).toBe(expected);
  });

  it('prefers comma on a tie', () => {
    expect(detectDelimiter('a;b,c')).toBe(',');
    expect(detectDelimiter('a|b,c')).toBe(',');
  });

  it('falls back to comma when the line has no delimiter', () => {
    expect(detectDelimiter('MPAN')).toBe(',');
  });
});

describe('readCsvRecords', () => {
  it('yields fields with 1-based line numbers', async () => {
    const records = await readAll(['MPAN,ReadDateTime,ReadValue\nE06BG12862,2024-11-09 00:30:00,5.6\n']);
    expect(simplify(records)).toEqual([
      [1, ['MPAN', 'ReadDateTime', 'ReadValue']],
      [2, ['E06BG12862', '2024-11-09 00:30:00', '5.6']],
    ]);
  });

  it('detects semicolon, tab and pipe delimiters from the first line', async () => {
    expect(simplify(await readAll(['a;b\n1;2,5\n']))).toEqual([
      [1, ['a', 'b']],
      [2, ['1', '2,5']],
    ]);
    expect(simplify(await readAll(['a\tb\n1\t2\n']))[1]).toEqual([2, ['1', '2']]);
    expect(simplify(await readAll(['a|b\n1|2\n']))[1]).toEqual([2, ['1', '2']]);
  });

  it('uses the delimiter given in the options instead of detecting one', async () => {
    const records = await readAll(['a;b,c\n1;2,3\n'], { delimiter: ',' });
    expect(records[0]?.fields).toEqual(['a;b', 'c']);
  });

  it('detects the delimiter from the first non-blank line', async () => {
    const records = await readAll(['\n\na;b\n1;2\n']);
    expect(simplify(records)).toEqual([
      [3, ['a', 'b']],
      [4, ['1', '2']],
    ]);
  });

  it('strips a UTF-8 BOM from bytes and from text', async () => {
    const fromBytes = await readAll([new Uint8Array([0xef, 0xbb, 0xbf]), bytes('MPAN,Date\n')]);
    const fromText = await readAll(['\ufeffMPAN,Date\n']);
    expect(fromBytes[0]?.fields).toEqual(['MPAN', 'Date']);
    expect(fromText[0]?.fields).toEqual(['MPAN', 'Date']);
  });

  it('accepts LF, CRLF and CR line ends alike', async () => {
    const expected = [
      [1, ['a', 'b']],
      [2, ['1', '2']],
      [3, ['3', '4']],
    ];
    expect(simplify(await readAll(['a,b\n1,2\n3,4\n']))).toEqual(expected);
    expect(simplify(await readAll(['a,b\r\n1,2\r\n3,4\r\n']))).toEqual(expected);
    expect(simplify(await readAll(['a,b\r1,2\r3,4\r']))).toEqual(expected);
    expect(simplify(await readAll(['a,b\r\n1,2\n3,4']))).toEqual(expected);
  });

  it('reads a last line that has no line break', async () => {
    const records = await readAll(['a,b\n1,2']);
    expect(records[1]?.fields).toEqual(['1', '2']);
  });

  it('skips empty and whitespace-only lines but keeps counting them', async () => {
    const records = await readAll(['a,b\n\n   \n\t\n1,2\r\n\r\n3,4\n']);
    expect(simplify(records)).toEqual([
      [1, ['a', 'b']],
      [5, ['1', '2']],
      [7, ['3', '4']],
    ]);
  });

  it('keeps a row of empty fields, which is not a blank line', async () => {
    const records = await readAll(['a,b\n,\n']);
    expect(records[1]?.fields).toEqual(['', '']);
  });

  it('keeps surrounding spaces in fields (trimming is the value layer’s job)', async () => {
    const records = await readAll(['a,b\n 1 , 2 \n']);
    expect(records[1]?.fields).toEqual([' 1 ', ' 2 ']);
  });

  it('gives a trailing delimiter an empty last field', async () => {
    const records = await readAll(['a,b,\n1,2,\n']);
    expect(records[1]?.fields).toEqual(['1', '2', '']);
  });

  it('reads quoted fields holding delimiters, doubled quotes and line breaks', async () => {
    const text = 'name,address\n"Shop, Ltd","1 ""High"" St\r\nLeeds"\n"",x\nlast,"a\nb\nc"\nend,1\n';
    const records = await readAll([text]);
    expect(simplify(records)).toEqual([
      [1, ['name', 'address']],
      [2, ['Shop, Ltd', '1 "High" St\r\nLeeds']],
      [4, ['', 'x']],
      [5, ['last', 'a\nb\nc']],
      [8, ['end', '1']],
    ]);
  });

  it('keeps text after a closing quote literally instead of failing the file', async () => {
    const records = await readAll(['a,b\n"12"3,x\n']);
    expect(records[1]?.fields).toEqual(['123', 'x']);
  });

  it('treats a quote inside an unquoted field as a literal character', async () => {
    const records = await readAll(['a,b\n5" pipe,x\n']);
    expect(records[1]?.fields).toEqual(['5" pipe', 'x']);
  });

  it('gives the same records however bytes are split into chunks', async () => {
    const text =
      '\ufeffMPAN;Name;Value\r\nE06BG12862;"Café ""Zoë"";\r\nLeeds";£5.6\r\n\r\nM1;€ 😀;"x"\rM2;plain;7\n"q";"";\r\n';
    const expected = simplify(await readAll([text]));
    expect(expected).toEqual([
      [1, ['MPAN', 'Name', 'Value']],
      [2, ['E06BG12862', 'Café "Zoë";\r\nLeeds', '£5.6']],
      [5, ['M1', '€ 😀', 'x']],
      [6, ['M2', 'plain', '7']],
      [7, ['q', '', '']],
    ]);
    const all = bytes(text);
    for (let cut = 1; cut < all.length; cut++) {
      const records = await readAll([all.subarray(0, cut), all.subarray(cut)]);
      expect(simplify(records), `cut at byte ${cut}`).toEqual(expected);
    }
    for (const size of [1, 2, 3, 5, 7]) {
      expect(simplify(await readAll(byteChunks(text, size))), `chunks of ${size}`).toEqual(expected);
    }
  });

  it('does not invent a blank record when a chunk ends between CR and LF', async () => {
    const records = await readAll(['a,b\r', '\n1,2\r', '\n3,4\r', '\n']);
    expect(simplify(records)).toEqual([
      [1, ['a', 'b']],
      [2, ['1', '2']],
      [3, ['3', '4']],
    ]);
  });

  it('reads the same records from text chunks split inside quotes', async () => {
    const records = await readAll(['a,b\n"x', ',y"', '"z', '"', ',2\n']);
    expect(records[1]?.fields).toEqual(['x,y"z', '2']);
  });

  it('matches a whole-text parse on generated files split at random points', async () => {
    const random = prng(42);
    const pieces = ['a', 'é', '😀', ' ', ',', '""', '\n', '\r\n', '1.5'];
    for (let round = 0; round < 40; round++) {
      const lines: string[] = ['h1,h2,h3'];
      for (let row = 0; row < 20; row++) {
        const fields: string[] = [];
        for (let col = 0; col < 3; col++) {
          let content = '';
          const length = Math.floor(random() * 6);
          for (let k = 0; k < length; k++) content += pieces[Math.floor(random() * pieces.length)] ?? '';
          fields.push(`"${content}"`);
        }
        lines.push(fields.join(','));
      }
      const text = lines.join(random() < 0.5 ? '\n' : '\r\n');
      const expected = simplify(parseCsvText(text).records);
      const all = bytes(text);
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < all.length; ) {
        const size = 1 + Math.floor(random() * 9);
        chunks.push(all.subarray(at, at + size));
        at += size;
      }
      expect(simplify(await readAll(chunks))).toEqual(expected);
    }
  });

  it('rejects invalid UTF-8 with a file-level error', async () => {
    const error = await readError([bytes('a,b\n1,'), new Uint8Array([0xc3, 0x28]), bytes('\n')]);
    expect(error.code).toBe('invalid-utf8');
    expect(error.message).toContain('not valid UTF-8');
  });

  it('rejects a file that ends inside a multi-byte character', async () => {
    const error = await readError([bytes('a,b\n1,'), new Uint8Array([0xe2, 0x82])]);
    expect(error.code).toBe('invalid-utf8');
  });

  it('rejects Latin-1 bytes such as a Windows-1252 pound sign', async () => {
    const error = await readError([new Uint8Array([0x61, 0x2c, 0x62, 0x0a, 0xa3, 0x35, 0x0a])]);
    expect(error.code).toBe('invalid-utf8');
  });

  it('rejects UTF-16 text with an actionable message', async () => {
    const error = await readError([new Uint8Array([0xff, 0xfe, 0x61, 0x00])]);
    expect(error.code).toBe('utf16');
    expect(error.message).toBe('File is UTF-16 text; save it as "CSV UTF-8"');
  });

  it('rejects an Excel workbook uploaded as CSV', async () => {
    const error = await readError([new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00])]);
    expect(error.code).toBe('binary');
  });

  it('rejects text holding NUL characters', async () => {
    const error = await readError(['a,b\n1\u0000,2\n']);
    expect(error.code).toBe('binary');
  });

  it('names the line of a quote left open at the end of the file', async () => {
    const error = await readError(['a,b\n1,2\n3,"never closed\n4,5\n']);
    expect(error.code).toBe('unbalanced-quote');
    expect(error.lineNumber).toBe(3);
    expect(error.message).toBe('Line 3: a quoted field is never closed (unbalanced ")');
  });

  it('rejects a record with more columns than allowed, naming its line', async () => {
    const wide = Array.from({ length: 10_000 }, (_, i) => `c${i}`).join(',');
    const error = await readError([`a,b\n1,2\n${wide}\n`]);
    expect(error.code).toBe('too-many-columns');
    expect(error.lineNumber).toBe(3);
    expect(error.message).toBe('Line 3: record has more than 1000 columns');
  });

  it('rejects too many quoted columns as well', async () => {
    const wide = Array.from({ length: 11 }, () => '"x"').join(',');
    const error = await readError([`a\n${wide}\n`], { maxColumns: 10 });
    expect(error.code).toBe('too-many-columns');
    expect(error.lineNumber).toBe(2);
  });

  it('accepts exactly the maximum number of columns', async () => {
    const records = await readAll([`${Array.from({ length: 10 }, () => 'x').join(',')}\n`], {
      maxColumns: 10,
    });
    expect(records[0]?.fields).toHaveLength(10);
  });

  it('rejects a line over 1 MiB even when it never ends, without waiting for the end of the stream', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    let chunksRead = 0;
    async function* endless(): AsyncGenerator<string> {
      yield 'a,b\n1,2\n';
      for (;;) {
        chunksRead++;
        yield chunk;
      }
    }
    let caught: unknown;
    try {
      for await (const _ of readCsvRecords(endless())) {
        // draining
      }
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CsvFormatError);
    expect(caught instanceof CsvFormatError ? [caught.code, caught.lineNumber] : null).toEqual([
      'record-too-long',
      3,
    ]);
    expect(chunksRead).toBe(17);
  });

  it('rejects a complete record over the configured size', async () => {
    const error = await readError([`a\n${'y'.repeat(101)}\nz\n`], { maxRecordChars: 100 });
    expect(error.code).toBe('record-too-long');
    expect(error.message).toBe('Line 2: record is longer than 100 characters');
  });

  it('rejects an oversized quoted field spanning many lines', async () => {
    const error = await readError([`a\n"${'line\n'.repeat(30)}"\n`], { maxRecordChars: 100 });
    expect(error.code).toBe('record-too-long');
    expect(error.lineNumber).toBe(2);
  });

  it('reads a formula-injection cell as plain text', async () => {
    const records = await readAll(['MPAN,Value\n"=cmd|\' /C calc\'!A0",1\n']);
    expect(records[1]?.fields).toEqual(["=cmd|' /C calc'!A0", '1']);
  });
});

describe('readCsvRecordBatches', () => {
  it('yields the same records as the per-record reader, grouped by chunk', async () => {
    const chunks = ['a,b\n1,2\n3,', '4\n5,6\n'];
    const batches: CsvRecord[][] = [];
    for await (const batch of readCsvRecordBatches(chunksOf(chunks))) batches.push(batch);
    expect(batches.map((batch) => batch.map((record) => record.fields))).toEqual([
      [
        ['a', 'b'],
        ['1', '2'],
      ],
      [
        ['3', '4'],
        ['5', '6'],
      ],
    ]);
  });
});

describe('parseCsvText', () => {
  it('parses a whole text with the stream reader’s rules', () => {
    const result = parseCsvText('\ufeffMPAN;Date\r\nE1;"09/11/2024"');
    expect(result.delimiter).toBe(';');
    expect(simplify(result.records)).toEqual([
      [1, ['MPAN', 'Date']],
      [2, ['E1', '09/11/2024']],
    ]);
  });

  it('drops an unfinished last record when the text is truncated', () => {
    const result = parseCsvText('MPAN,Date\nE1,09/1', { isTruncated: true });
    expect(simplify(result.records)).toEqual([[1, ['MPAN', 'Date']]]);
  });

  it('reports no delimiter and no records when a truncated text has no complete line', () => {
    expect(parseCsvText('MPAN,Da', { isTruncated: true })).toEqual({ delimiter: null, records: [] });
  });

  it('decodes bytes cut inside a character when truncated', () => {
    const all = bytes('Site,Name\nS1,Café');
    const result = parseCsvText(all.subarray(0, all.length - 1), { isTruncated: true });
    expect(result.records.map((record) => record.fields)).toEqual([['Site', 'Name']]);
  });

  it('rejects invalid UTF-8 bytes', () => {
    expect(() => parseCsvText(new Uint8Array([0x61, 0xff, 0x0a]))).toThrow(CsvFormatError);
  });

  it('rejects an unbalanced quote in a complete text', () => {
    expect(() => parseCsvText('a\n"b')).toThrow('Line 2: a quoted field is never closed (unbalanced ")');
  });

  it('returns nothing for an empty text', () => {
    expect(parseCsvText('')).toEqual({ delimiter: ',', records: [] });
  });
});

describe('record end offsets (resume points)', () => {
  /** Reads the whole file, then resumes after each record: the rest must be exactly what followed. */
  async function expectEveryOffsetResumes(text: string, chunkSize: number): Promise<void> {
    const file = bytes(text);
    const all = await readAll(byteChunks(text, chunkSize));
    for (const [index, record] of all.entries()) {
      const head = new TextDecoder().decode(file.subarray(0, record.endOffset));
      const rest = file.subarray(record.endOffset);
      // The line after the record: one more than the line breaks before the offset (a last record
      // without a line break has no line after it to number).
      const lineBreaks = head.match(/\r\n|\r|\n/g)?.length ?? 0;
      if (record.endOffset < file.length) {
        expect({ after: index, line: lineAfter(record) }).toEqual({ after: index, line: 1 + lineBreaks });
      }
      const resumed = await readAll(byteChunks(new TextDecoder().decode(rest), chunkSize), {
        delimiter: ',',
        startOffset: record.endOffset,
        firstLineNumber: lineAfter(record),
      });
      expect({ after: index, records: resumed }).toEqual({ after: index, records: all.slice(index + 1) });
    }
  }

  it('points just past the line break of each record, counting bytes, not characters', async () => {
    const records = await readAll([bytes('a,b\r\nCafé,ü\nx,"y\nz"\r\nlast,1')]);
    expect(records.map((record) => record.endOffset)).toEqual([5, 14, 23, 29]);
  });

  it('counts a UTF-8 BOM as the file’s first three bytes', async () => {
    const records = await readAll([bytes('\ufeffa,b\nc,d\n')]);
    expect(records.map((record) => record.endOffset)).toEqual([7, 11]);
  });

  it('counts the BOM the same way when the source is text', async () => {
    const records = await readAll(['\ufeffa,b\n', 'c,d\n']);
    expect(records.map((record) => record.endOffset)).toEqual([7, 11]);
  });

  it('skips blank lines inside the offset of the record that follows them', async () => {
    const records = await readAll([bytes('a,b\n\n  \nc,d\n')]);
    expect(records.map((record) => record.endOffset)).toEqual([4, 12]);
  });

  it('resumes exactly after every record, wherever chunks cut the bytes', async () => {
    const text =
      'MPAN,Date,Name\r\nE1,01/01/2024,Café\r\n\r\nE2,"02/01/2024","quoted, comma"\n' +
      'E3,03/01/2024,"two\r\nlines"\nE4,04/01/2024,日本語\r\nE5,05/01/2024,"x""y"';
    for (const size of [1, 2, 3, 7, 64]) await expectEveryOffsetResumes(text, size);
  });

  it('resumes exactly on generated files of mixed ASCII and multi-byte text', async () => {
    const random = prng(13);
    const cells = ['a', 'ü', '€', '"q,"', '"l\nb"', '12.5', '', '𝄞'];
    for (let file = 0; file < 20; file++) {
      const lines: string[] = [];
      for (let line = 0; line < 8; line++) {
        const width = 1 + Math.floor(random() * 4);
        lines.push(
          Array.from({ length: width }, () => cells[Math.floor(random() * cells.length)] ?? '').join(','),
        );
      }
      const breaks = ['\n', '\r\n'];
      const text = lines.map((line) => line + (breaks[Math.floor(random() * 2)] ?? '\n')).join('');
      await expectEveryOffsetResumes(`h1,h2\n${text}`, 1 + Math.floor(random() * 9));
    }
  });

  it('skips the first-bytes checks and keeps a leading U+FEFF when resuming mid-file', async () => {
    const records = await readAll([bytes('\ufeffx,y\n')], { delimiter: ',', startOffset: 100 });
    expect(records).toEqual([{ fields: ['\ufeffx', 'y'], lineNumber: 1, endOffset: 107 }]);
  });

  it('numbers lines from firstLineNumber when resuming', async () => {
    const records = await readAll([bytes('c,d\ne,f\n')], { startOffset: 4, firstLineNumber: 2 });
    expect(simplify(records)).toEqual([
      [2, ['c', 'd']],
      [3, ['e', 'f']],
    ]);
  });
});
