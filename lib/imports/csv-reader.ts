// Owns turning a byte or text stream into CSV records: UTF-8 decoding, delimiter detection, RFC 4180
// quoting, line numbers and size limits. Knows nothing about headers or meter data, and never holds
// more than one chunk plus one unfinished record in memory.

import { AppError } from '../errors.js';

export type CsvDelimiter = ',' | '\t' | ';' | '|';

export type CsvRecord = {
  /** Field text as written (not trimmed), with quoting removed and doubled quotes collapsed. */
  fields: string[];
  /** 1-based physical line on which the record starts; quoted line breaks count as lines. */
  lineNumber: number;
  /**
   * Byte offset (in the UTF-8 source, counted from its first byte, BOM included) just after the
   * record and its line break: where a resumed read starts so that the next record comes first.
   */
  endOffset: number;
};

export type CsvReaderOptions = {
  /** Skips detection; otherwise the first non-blank line decides. */
  delimiter?: CsvDelimiter;
  /** Longest record, in UTF-16 code units, before the file is rejected. */
  maxRecordChars?: number;
  maxColumns?: number;
  /**
   * The source starts this many bytes into the file (a resumed read): offsets count from the file's
   * start, and the leading-byte checks and BOM removal, which belong to the file's start, are skipped.
   */
  startOffset?: number;
  /** The line number of the source's first line (resumed reads); 1 by default. */
  firstLineNumber?: number;
};

export type CsvTextOptions = CsvReaderOptions & {
  /** The text is only the head of a file: an unfinished last record is dropped, not an error. */
  isTruncated?: boolean;
};

export type CsvTextResult = {
  /** Null when the text holds no complete non-blank line to detect it from. */
  delimiter: CsvDelimiter | null;
  records: CsvRecord[];
};

export type CsvFormatErrorCode =
  | 'invalid-utf8'
  | 'utf16'
  | 'binary'
  | 'unbalanced-quote'
  | 'record-too-long'
  | 'too-many-columns';

/** The file cannot be read as CSV at all: a file-level error that no retry can fix. */
export class CsvFormatError extends AppError {
  constructor(
    readonly code: CsvFormatErrorCode,
    message: string,
    readonly lineNumber: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const DEFAULT_MAX_RECORD_CHARS = 1_048_576;
export const DEFAULT_MAX_COLUMNS = 1000;

const LF = 10;
const CR = 13;
const QUOTE = 34;
const SPACE = 32;
const TAB = 9;
const UTF8_BOM_BYTES = 3;
// biome-ignore lint/suspicious/noControlCharactersInRegex: any code unit above 0x7f is what it looks for
const NON_ASCII = /[^\u0000-\u007f]/;
const CANDIDATE_DELIMITERS: readonly CsvDelimiter[] = [',', '\t', ';', '|'];

/**
 * Counts `,` `\t` `;` `|` in a line; the most frequent wins and a tie goes to the earlier candidate,
 * so comma wins every tie it is part of.
 */
export function detectDelimiter(line: string): CsvDelimiter {
  let best: CsvDelimiter = ',';
  let bestCount = 0;
  for (const candidate of CANDIDATE_DELIMITERS) {
    let count = 0;
    for (let at = line.indexOf(candidate); at !== -1; at = line.indexOf(candidate, at + 1)) count++;
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best;
}

function isBlankRange(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code !== SPACE && code !== TAB) return false;
  }
  return true;
}

function hasLineBreak(text: string): boolean {
  return text.indexOf('\n') !== -1 || text.indexOf('\r') !== -1;
}

/** Line breaks inside a quoted field, counting CRLF once. */
function countLineBreaks(text: string, start: number, end: number): number {
  let count = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === LF) count++;
    else if (code === CR && text.charCodeAt(i + 1) !== LF) count++;
  }
  return count;
}

/**
 * The line just after `record`: where a read resumed at its endOffset starts counting. Only a quoted
 * field can hold a line break, and its text keeps them, so they are counted the parser's way.
 */
export function lineAfter(record: CsvRecord): number {
  let line = record.lineNumber + 1;
  for (const field of record.fields) line += countLineBreaks(field, 0, field.length);
  return line;
}

/**
 * The shared core: fed text in arbitrary pieces, emits every record that is complete and keeps the
 * unfinished remainder. A record ends only at a line break outside quotes (or at the end of input), so
 * a piece without any line break cannot complete one and is appended without re-scanning.
 */
class RecordParser {
  private delimiter: CsvDelimiter | null;
  private delimiterCode: number;
  private readonly maxRecordChars: number;
  private readonly maxColumns: number;
  private pending = '';
  private lineNumber: number;
  private started: boolean;
  /** Bytes of the source before `pending`: everything consumed so far. */
  private consumedBytes: number;
  // Maps a position in the text being parsed to its byte offset without re-encoding from its start.
  private textIsAscii = true;
  private offsetCursorChars = 0;
  private offsetCursorBytes = 0;
  // Line breaks inside quotes of the record the slow path just finished.
  private quotedBreaks = 0;

  constructor(options: CsvReaderOptions) {
    this.delimiter = options.delimiter ?? null;
    this.delimiterCode = (options.delimiter ?? ',').charCodeAt(0);
    this.maxRecordChars = options.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS;
    this.maxColumns = options.maxColumns ?? DEFAULT_MAX_COLUMNS;
    this.consumedBytes = options.startOffset ?? 0;
    this.lineNumber = options.firstLineNumber ?? 1;
    // Only a file's first bytes can hold a BOM; a resumed read starts mid-file.
    this.started = this.consumedBytes > 0;
  }

  get detectedDelimiter(): CsvDelimiter | null {
    return this.delimiter;
  }

  /** The line the unfinished record starts on: where a decoding problem was met, at the latest. */
  get currentLine(): number {
    return this.lineNumber;
  }

  push(piece: string, isFinal: boolean, out: CsvRecord[]): void {
    let text = piece;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) {
        text = text.slice(1);
        this.consumedBytes += UTF8_BOM_BYTES;
      }
    }
    if (this.pending.length > 0) {
      if (!isFinal && !hasLineBreak(text)) {
        this.pending += text;
        this.checkPendingLength();
        return;
      }
      text = this.pending + text;
    }
    if (this.delimiter === null) {
      const detected = this.detectFromFirstLine(text, isFinal);
      if (detected === null) {
        this.pending = text;
        this.checkPendingLength();
        return;
      }
      this.delimiter = detected;
      this.delimiterCode = detected.charCodeAt(0);
    }
    this.startOffsets(text);
    const consumed = this.parse(text, isFinal, out);
    this.consumedBytes = this.byteOffsetAt(text, consumed);
    this.pending = consumed >= text.length ? '' : text.slice(consumed);
    this.checkPendingLength();
  }

  /** Every record from `text` gets its end offset; pure-ASCII text (the usual case) needs no encoding. */
  private startOffsets(text: string): void {
    this.textIsAscii = !NON_ASCII.test(text);
    this.offsetCursorChars = 0;
    this.offsetCursorBytes = this.consumedBytes;
  }

  /** The source byte offset of position `at` in `text`; positions must not decrease within one text. */
  private byteOffsetAt(text: string, at: number): number {
    if (this.textIsAscii) return this.consumedBytes + at;
    if (at > this.offsetCursorChars) {
      this.offsetCursorBytes += Buffer.byteLength(text.slice(this.offsetCursorChars, at), 'utf8');
      this.offsetCursorChars = at;
    }
    return this.offsetCursorBytes;
  }

  /** Detects from the first non-blank line; null while that line is still incomplete. */
  private detectFromFirstLine(text: string, isFinal: boolean): CsvDelimiter | null {
    let start = 0;
    while (start < text.length) {
      let end = text.length;
      for (let i = start; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code === LF || code === CR) {
          end = i;
          break;
        }
      }
      if (end === text.length && !isFinal) return null;
      if (!isBlankRange(text, start, end)) return detectDelimiter(text.slice(start, end));
      start = end + 1;
    }
    return isFinal ? ',' : null;
  }

  private checkPendingLength(): void {
    if (this.pending.length > this.maxRecordChars) throw this.recordTooLong(this.lineNumber);
  }

  private recordTooLong(line: number): CsvFormatError {
    return new CsvFormatError(
      'record-too-long',
      `Line ${line}: record is longer than ${this.maxRecordChars} characters`,
      line,
    );
  }

  private tooManyColumns(line: number): CsvFormatError {
    return new CsvFormatError(
      'too-many-columns',
      `Line ${line}: record has more than ${this.maxColumns} columns`,
      line,
    );
  }

  /** Emits complete records from `text`; returns how much of it was consumed. */
  private parse(text: string, isFinal: boolean, out: CsvRecord[]): number {
    const len = text.length;
    const delimiter = this.delimiter ?? ',';
    let pos = 0;
    let line = this.lineNumber;
    // Next positions of LF, CR and quote; -1 means "none in the rest of the text", so a file without
    // CRs never scans for one twice.
    let nextLf = text.indexOf('\n');
    let nextCr = text.indexOf('\r');
    let nextQuote = text.indexOf('"');

    while (pos < len) {
      if (nextLf !== -1 && nextLf < pos) nextLf = text.indexOf('\n', pos);
      if (nextCr !== -1 && nextCr < pos) nextCr = text.indexOf('\r', pos);
      if (nextQuote !== -1 && nextQuote < pos) nextQuote = text.indexOf('"', pos);
      let lineEnd = nextLf === -1 ? nextCr : nextCr === -1 || nextLf < nextCr ? nextLf : nextCr;

      if (nextQuote !== -1 && (lineEnd === -1 || nextQuote < lineEnd)) {
        const next = this.parseQuotedRecord(text, pos, line, isFinal, out);
        if (next === -1) break;
        pos = next;
        line += 1 + this.quotedBreaks;
        continue;
      }

      // Fast path: no quote before the line ends, so the line is the record and split() is exact.
      if (lineEnd === -1) {
        if (!isFinal) break;
        lineEnd = len;
      } else if (lineEnd === len - 1 && !isFinal && text.charCodeAt(lineEnd) === CR) {
        break; // the LF of a CRLF may open the next piece
      }
      if (lineEnd - pos > this.maxRecordChars) throw this.recordTooLong(line);
      const next = Math.min(
        len,
        lineEnd + (text.charCodeAt(lineEnd) === CR && text.charCodeAt(lineEnd + 1) === LF ? 2 : 1),
      );
      if (!isBlankRange(text, pos, lineEnd)) {
        const fields = text.slice(pos, lineEnd).split(delimiter, this.maxColumns + 1);
        if (fields.length > this.maxColumns) throw this.tooManyColumns(line);
        out.push({ fields, lineNumber: line, endOffset: this.byteOffsetAt(text, next) });
      }
      pos = next;
      line++;
    }
    this.lineNumber = line;
    return pos;
  }

  /**
   * Field-by-field parse of a record holding at least one quote. Returns the position after its line
   * break, or -1 when the text ends before the record does (and more text may follow).
   */
  private parseQuotedRecord(
    text: string,
    start: number,
    line: number,
    isFinal: boolean,
    out: CsvRecord[],
  ): number {
    const len = text.length;
    const delimiterCode = this.delimiterCode;
    const fields: string[] = [];
    let breaks = 0;
    let pos = start;

    for (;;) {
      let value = '';
      if (pos < len && text.charCodeAt(pos) === QUOTE) {
        let segmentStart = pos + 1;
        for (;;) {
          const quoteAt = text.indexOf('"', segmentStart);
          if (quoteAt === -1) {
            if (!isFinal) return -1;
            throw new CsvFormatError(
              'unbalanced-quote',
              `Line ${line}: a quoted field is never closed (unbalanced ")`,
              line,
            );
          }
          if (quoteAt + 1 === len && !isFinal) return -1; // cannot yet tell `"` from `""`
          breaks += countLineBreaks(text, segmentStart, quoteAt);
          if (text.charCodeAt(quoteAt + 1) === QUOTE) {
            value += text.slice(segmentStart, quoteAt + 1);
            segmentStart = quoteAt + 2;
            continue;
          }
          value += text.slice(segmentStart, quoteAt);
          pos = quoteAt + 1;
          break;
        }
      }
      // Unquoted text, or text after a closing quote, which is kept literally (lenient, like most
      // spreadsheet readers) rather than failing the whole file.
      let end = pos;
      while (end < len) {
        const code = text.charCodeAt(end);
        if (code === delimiterCode || code === LF || code === CR) break;
        end++;
      }
      if (end > pos) value += text.slice(pos, end);
      pos = end;
      fields.push(value);
      if (fields.length > this.maxColumns) throw this.tooManyColumns(line);
      if (pos - start > this.maxRecordChars) throw this.recordTooLong(line);

      if (pos >= len) {
        if (!isFinal) return -1;
        break;
      }
      const code = text.charCodeAt(pos);
      if (code === delimiterCode) {
        pos++;
        continue;
      }
      if (code === CR) {
        if (pos + 1 >= len && !isFinal) return -1;
        pos += text.charCodeAt(pos + 1) === LF ? 2 : 1;
      } else {
        pos++;
      }
      break;
    }
    this.quotedBreaks = breaks;
    out.push({ fields, lineNumber: line, endOffset: this.byteOffsetAt(text, Math.min(pos, len)) });
    return pos;
  }
}

function utf8Error(line: number, cause: unknown): CsvFormatError {
  return new CsvFormatError(
    'invalid-utf8',
    `File is not valid UTF-8 text (invalid bytes at or after line ${line}); save it as "CSV UTF-8"`,
    line,
    { cause },
  );
}

/** Rejects the common wrong uploads by their first bytes, with a message a user can act on. */
function checkLeadingBytes(bytes: Uint8Array): void {
  const [b0, b1, b2, b3] = bytes;
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff)) {
    throw new CsvFormatError('utf16', 'File is UTF-16 text; save it as "CSV UTF-8"', 1);
  }
  if (b0 === 0x50 && b1 === 0x4b && b2 === 0x03 && b3 === 0x04) {
    throw new CsvFormatError('binary', 'File is a ZIP archive (an Excel workbook?), not CSV text', 1);
  }
}

function checkText(text: string, parser: RecordParser): void {
  if (text.indexOf('\u0000') !== -1) {
    throw new CsvFormatError(
      'binary',
      `File holds NUL characters at or after line ${parser.currentLine}; it is binary, not CSV text`,
      parser.currentLine,
    );
  }
}

/**
 * Reads records in batches (one per input chunk that completes any), which is the cheap way to
 * consume millions of rows: one await per chunk instead of one per record.
 */
export async function* readCsvRecordBatches(
  source: AsyncIterable<Uint8Array | string>,
  options: CsvReaderOptions = {},
): AsyncGenerator<CsvRecord[]> {
  const parser = new RecordParser(options);
  // ignoreBOM keeps a BOM in the text, so the parser strips it and counts its bytes in the offsets.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  // A resumed read starts mid-file, where the checks for a file's first bytes do not apply.
  let sawBytes = (options.startOffset ?? 0) > 0;
  for await (const chunk of source) {
    let text: string;
    if (typeof chunk === 'string') {
      text = chunk;
    } else {
      if (!sawBytes && chunk.length > 0) {
        sawBytes = true;
        checkLeadingBytes(chunk);
      }
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch (error) {
        throw utf8Error(parser.currentLine, error);
      }
    }
    checkText(text, parser);
    const out: CsvRecord[] = [];
    parser.push(text, false, out);
    if (out.length > 0) yield out;
  }
  let tail: string;
  try {
    tail = decoder.decode();
  } catch (error) {
    throw utf8Error(parser.currentLine, error);
  }
  checkText(tail, parser);
  const out: CsvRecord[] = [];
  parser.push(tail, true, out);
  if (out.length > 0) yield out;
}

/** Reads records one at a time; see readCsvRecordBatches for the faster batched form. */
export async function* readCsvRecords(
  source: AsyncIterable<Uint8Array | string>,
  options: CsvReaderOptions = {},
): AsyncGenerator<CsvRecord> {
  for await (const batch of readCsvRecordBatches(source, options)) {
    for (const record of batch) yield record;
  }
}

/**
 * Parses a small text (a header line, the head of an upload) with the same rules as the stream
 * reader; bytes are decoded strictly as UTF-8.
 */
export function parseCsvText(input: string | Uint8Array, options: CsvTextOptions = {}): CsvTextResult {
  const isTruncated = options.isTruncated === true;
  const parser = new RecordParser(options);
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    checkLeadingBytes(input);
    try {
      // Streaming mode holds back a multi-byte character cut off by truncation instead of failing.
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input, {
        stream: isTruncated,
      });
    } catch (error) {
      throw utf8Error(1, error);
    }
  }
  checkText(text, parser);
  const records: CsvRecord[] = [];
  parser.push(text, !isTruncated, records);
  return { delimiter: parser.detectedDelimiter, records };
}
