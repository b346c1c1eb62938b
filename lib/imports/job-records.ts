// Opens a claimed job's file, wherever its bytes live, as CSV records from the job's checkpoint on. A
// fresh job reads from the first byte; a resumed one reads the header alone (its layout and delimiter)
// and then the rest from the checkpoint's byte offset, so no row before it is read or parsed again.
// Owns the streams it opens: close() frees them (and the S3 socket behind one) on every path.
// See docs/design.md#resuming-a-streamed-upload.

import type { Readable } from 'node:stream';
import {
  type JobFileLocation,
  type JobFileSources,
  openJobFile,
  type SeekMethod,
} from '../storage/job-file.js';
import { type CsvDelimiter, type CsvRecord, parseCsvText, readCsvRecordBatches } from './csv-reader.js';
import { type FileRequest, type PreparedFile, prepareFile, setUpFile } from './file-setup.js';
import { noHeaderError } from './formats.js';
import type { ImportType } from './job.js';
import type { Checkpoint } from './processor-repository.js';

/** How a resumed run reached its checkpoint. */
export type ResumeReport = {
  readonly seek: SeekMethod;
  readonly byteOffset: number;
  /** From opening the file (header read included) to holding the first record after the checkpoint. */
  readonly reachedMs: number;
};

export type JobRecords = {
  readonly file: PreparedFile;
  /** What `batches` continues from: the checkpoint, or row 0 at byte 0 for a read from the start. */
  readonly from: Checkpoint;
  /** The data records after `from`, in the reader's batches. */
  readonly batches: AsyncIterable<readonly CsvRecord[]>;
  /** Set when the read started at the checkpoint's byte offset. */
  readonly resumed: ResumeReport | undefined;
  /** Stops reading and frees the stream; safe to call more than once. */
  close(): Promise<void>;
};

export const FILE_START: Checkpoint = { row: 0, byteOffset: 0, line: 1 };

/**
 * `resumeAt` null: from the start (a job with an older row-only checkpoint then skips its rows in the
 * row loop). A file-level problem throws FileFormatError, CsvFormatError or StoredFileError.
 */
export async function openJobRecords(
  sources: JobFileSources,
  location: JobFileLocation,
  importType: ImportType,
  resumeAt: Checkpoint | null,
  request: FileRequest = {},
): Promise<JobRecords> {
  return resumeAt === null
    ? openFromStart(sources, location, importType, request)
    : openFromCheckpoint(sources, location, importType, resumeAt, request);
}

async function openFromStart(
  sources: JobFileSources,
  location: JobFileLocation,
  importType: ImportType,
  request: FileRequest,
): Promise<JobRecords> {
  const { stream } = await openJobFile(sources, location, 0);
  const batches = readCsvRecordBatches(stream);
  const close = closer(stream, batches);
  try {
    const { file, firstRecords } = await setUpFile(importType, batches, request);
    return { file, from: FILE_START, batches: prepend(firstRecords, batches), resumed: undefined, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function openFromCheckpoint(
  sources: JobFileSources,
  location: JobFileLocation,
  importType: ImportType,
  at: Checkpoint,
  request: FileRequest,
): Promise<JobRecords> {
  const startedMs = performance.now();
  const head = await readHeader(sources, location);
  const file = prepareFile(importType, head.header.fields, request);
  const opened = await openJobFile(sources, location, at.byteOffset);
  const batches = readCsvRecordBatches(opened.stream, {
    delimiter: head.delimiter,
    startOffset: at.byteOffset,
    firstLineNumber: at.line,
  });
  const close = closer(opened.stream, batches);
  try {
    const first = await batches.next();
    const resumed = {
      seek: opened.seek,
      byteOffset: at.byteOffset,
      reachedMs: Math.round(performance.now() - startedMs),
    };
    const rest = first.done === true ? batches : prepend(first.value, batches);
    return { file, from: at, batches: rest, resumed, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The header record and the delimiter it was read with, from a read of the file's first bytes that is
 * dropped as soon as the header is complete. The same parser as the full read, so the same limits apply
 * (a header longer than a record may be fails as record-too-long).
 */
async function readHeader(
  sources: JobFileSources,
  location: JobFileLocation,
): Promise<{ header: CsvRecord; delimiter: CsvDelimiter }> {
  const { stream } = await openJobFile(sources, location, 0);
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
      const found = headerOf(parseCsvText(Buffer.concat(chunks), { isTruncated: true }));
      if (found !== null) return found;
    }
    const found = headerOf(parseCsvText(Buffer.concat(chunks)));
    if (found !== null) return found;
    throw noHeaderError();
  } finally {
    stream.destroy();
  }
}

function headerOf(
  parsed: ReturnType<typeof parseCsvText>,
): { header: CsvRecord; delimiter: CsvDelimiter } | null {
  const [header] = parsed.records;
  return header === undefined || parsed.delimiter === null ? null : { header, delimiter: parsed.delimiter };
}

/** Destroys the stream first, so a reader waiting on a stalled socket cannot hold the close up. */
function closer(stream: Readable, batches: AsyncGenerator<unknown>): () => Promise<void> {
  return async () => {
    stream.destroy();
    await batches.return(undefined);
  };
}

async function* prepend<T>(first: T, rest: AsyncIterable<T>): AsyncGenerator<T> {
  yield first;
  yield* rest;
}
