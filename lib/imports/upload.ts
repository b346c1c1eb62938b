// Turns an upload request (query, headers, body) into a typed UploadRequest, or a 4xx HttpError: the
// options, content type and encoding, size limits (gzip bombs included), UTF-8, the header row, and
// the data-row count. Pure: no database, no logging; the file is gzipped here for storage.

import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parseQueryChoice } from '../choice.js';
import { HttpError } from '../errors.js';
import { CsvFormatError, readCsvRecordBatches } from './csv-reader.js';
import { FileFormatError } from './formats.js';
import { IMPORT_TYPES, type ImportType, PRIORITIES, type Priority } from './job.js';
import { LayoutError, type LayoutName } from './layouts/layout.js';
import { parseFormatName, parseMeterParameter, resolveLayoutFromHead } from './layouts/registry.js';

export type UploadLimits = {
  /** The body as received (after base64 decoding), compressed or not. */
  readonly maxUploadBytes: number;
  /** The file after gunzip. */
  readonly maxDecompressedBytes: number;
};

export type UploadOptions = {
  readonly importType: ImportType;
  readonly dryRun: boolean;
  readonly priority: Priority;
  readonly maxRetries: number;
  readonly filename: string;
  readonly defaultSiteId: number | undefined;
  /** SHA-256 hex of the Idempotency-Key header: stored instead of the key, and exact (no collation). */
  readonly idempotencyKeyDigest: string | undefined;
  /** `format=<layout name>`: the layout to use when detection cannot choose (layouts/registry.ts). */
  readonly format: LayoutName | undefined;
  /** `meter=<code>`: the meter of a file with no meter column (e.g. an Octopus export). */
  readonly meterCode: string | undefined;
  readonly gzipped: boolean;
};

export type UploadRequest = UploadOptions & {
  /** The file as one gzip stream, ready for storeFileChunks. */
  readonly gzippedFile: Buffer;
  /** The layout the file's header row was read as (the job runs it again with the same rules). */
  readonly layout: LayoutName;
  /** Data rows: CSV records after the header row with at least one non-empty cell, as the processor counts them. */
  readonly totalRows: number;
  /** SHA-256 over the options and the file: a replayed Idempotency-Key must come with the same one. */
  readonly fingerprint: string;
};

export const DEFAULT_FILENAME = 'upload.csv';
export const MAX_FILENAME_CHARS = 255;
export const DEFAULT_MAX_RETRIES = 3;
export const MAX_MAX_RETRIES = 10;
export const ACCEPTED_CONTENT_TYPES = [
  'text/csv',
  'application/octet-stream',
  'text/plain',
  'application/gzip',
  'application/x-gzip',
];
/** Accepted Content-Encoding values; none at all is accepted too. */
export const ACCEPTED_CONTENT_ENCODINGS = ['gzip', 'x-gzip', 'identity'];
const GZIP_CONTENT_TYPES = new Set(['application/gzip', 'application/x-gzip']);
const HEAD_BYTES = 256 * 1024;
const SCAN_CHUNK_BYTES = 1024 * 1024;
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,200}$/;
const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);
const FALSE_VALUES = new Set(['', '0', 'false', 'no', 'off']);
// Control characters (C0, DEL, C1), Unicode bidi/format controls, and unpaired surrogates.
const UNSAFE_FILENAME_CHARS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export async function parseUpload(
  request: {
    readonly query: Readonly<Record<string, string>>;
    readonly headers: Readonly<Record<string, string>>;
    readonly body: Buffer;
  },
  limits: UploadLimits,
): Promise<UploadRequest> {
  const options = parseUploadOptions(request.query, request.headers);
  const file = decodeBody(request.body, options.gzipped, limits);
  const { layout, totalRows } = await inspectCsv(options, file);
  return {
    ...options,
    gzippedFile: options.gzipped ? request.body : gzipSync(file),
    layout,
    totalRows,
    fingerprint: fingerprint(options, file),
  };
}

export function parseUploadOptions(
  query: Readonly<Record<string, string>>,
  headers: Readonly<Record<string, string>>,
): UploadOptions {
  return {
    ...parseJobOptions(query, headers),
    gzipped: parseContentType(headers['content-type']) || parseContentEncoding(headers['content-encoding']),
  };
}

/** The job's options without a body: what POST /api/import/uploads takes (the file comes later). */
export function parseJobOptions(
  query: Readonly<Record<string, string>>,
  headers: Readonly<Record<string, string>>,
): Omit<UploadOptions, 'gzipped'> {
  const importType = parseImportType(query.type);
  return {
    importType,
    dryRun: parseFlag('dry_run', query.dry_run),
    priority: parsePriority(query.priority),
    maxRetries: parseMaxRetries(query.max_retries),
    filename: sanitizeFilename(query.filename),
    defaultSiteId: parseSiteId(query.default_site_id),
    idempotencyKeyDigest: parseIdempotencyKey(headers['idempotency-key']),
    format: asHttpError(() => parseFormatName(importType, query.format)),
    meterCode: asHttpError(() => parseMeterParameter(query.meter)),
  };
}

/** A LayoutError as the HTTP error it stands for (400 or 422, the headers seen in the body). */
function asHttpError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw toUploadError(error);
  }
}

/** The job metadata that carries `format` and `meter` to the processor. */
export function layoutMetadata(options: Pick<UploadOptions, 'format' | 'meterCode'>): Record<string, string> {
  return {
    ...(options.format === undefined ? {} : { format: options.format }),
    ...(options.meterCode === undefined ? {} : { meter: options.meterCode }),
  };
}

function parseImportType(value: string | undefined): ImportType {
  return parseQueryChoice('type', value ?? '', IMPORT_TYPES);
}

function parseFlag(name: string, value: string | undefined): boolean {
  const normalised = (value ?? '').trim().toLowerCase();
  if (TRUE_VALUES.has(normalised)) return true;
  if (FALSE_VALUES.has(normalised)) return false;
  throw new HttpError(400, `${name} must be 1 or 0 (true or false)`);
}

function parsePriority(value: string | undefined): Priority {
  if (value === undefined || value === '') return 'normal';
  return parseQueryChoice('priority', value, PRIORITIES);
}

function parseMaxRetries(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_MAX_RETRIES;
  const retries = /^\d{1,2}$/.test(value) ? Number(value) : Number.NaN;
  if (!(retries >= 0 && retries <= MAX_MAX_RETRIES)) {
    throw new HttpError(400, `max_retries must be a whole number from 0 to ${MAX_MAX_RETRIES}`);
  }
  return retries;
}

function parseSiteId(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const id = /^[1-9]\d{0,15}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(id)) throw new HttpError(400, 'default_site_id must be a positive whole number');
  return id;
}

function parseIdempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(value) || value.trim() === '') {
    throw new HttpError(400, 'Idempotency-Key must be 1 to 200 printable ASCII characters');
  }
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** True when the media type itself is gzip; 415 for anything not accepted. */
function parseContentType(value: string | undefined): boolean {
  const [mediaType = '', ...parameters] = (value ?? '').split(';').map((part) => part.trim().toLowerCase());
  const unsupported = new HttpError(
    415,
    `Content-Type must be one of: ${ACCEPTED_CONTENT_TYPES.join(', ')} (UTF-8)`,
    { accepted: ACCEPTED_CONTENT_TYPES },
  );
  if (!ACCEPTED_CONTENT_TYPES.includes(mediaType)) throw unsupported;
  const charset = parameters.find((parameter) => parameter.startsWith('charset='))?.slice('charset='.length);
  if (charset !== undefined && !['utf-8', 'utf8', '"utf-8"', 'us-ascii'].includes(charset)) throw unsupported;
  return GZIP_CONTENT_TYPES.has(mediaType);
}

function parseContentEncoding(value: string | undefined): boolean {
  const encoding = (value ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return false;
  if (encoding === 'gzip' || encoding === 'x-gzip') return true;
  throw new HttpError(
    415,
    `Content-Encoding must be one of: ${ACCEPTED_CONTENT_ENCODINGS.join(', ')}, or absent`,
    {
      accepted: ACCEPTED_CONTENT_ENCODINGS,
    },
  );
}

/**
 * The filename to keep: the last path segment only (`../../etc/passwd` → `passwd`), without control
 * or bidi characters, at most 255 characters; `upload.csv` when nothing usable is left.
 */
export function sanitizeFilename(value: string | undefined): string {
  const cleaned = (value ?? '').replace(UNSAFE_FILENAME_CHARS, '');
  const lastSegment = cleaned.split(/[/\\]/).pop() ?? '';
  const name = Array.from(lastSegment.trim()).slice(0, MAX_FILENAME_CHARS).join('').trim();
  return name === '' || /^\.+$/.test(name) ? DEFAULT_FILENAME : name;
}

function decodeBody(body: Buffer, gzipped: boolean, limits: UploadLimits): Buffer {
  if (body.length === 0) throw emptyBody();
  if (body.length > limits.maxUploadBytes) {
    throw new HttpError(
      413,
      `Upload is larger than ${limits.maxUploadBytes} bytes; compress it with gzip (Content-Encoding: gzip)`,
      { max_upload_bytes: limits.maxUploadBytes },
    );
  }
  const tooLarge = new HttpError(
    413,
    `File is larger than ${limits.maxDecompressedBytes} bytes uncompressed`,
    {
      max_decompressed_bytes: limits.maxDecompressedBytes,
    },
  );
  if (!gzipped) {
    if (body.length > limits.maxDecompressedBytes) throw tooLarge;
    return body;
  }
  let file: Buffer;
  try {
    // maxOutputLength stops a gzip bomb before it is inflated into memory.
    file = gunzipSync(body, { maxOutputLength: limits.maxDecompressedBytes });
  } catch (error) {
    if (error instanceof RangeError || (error instanceof Error && hasCode(error, 'ERR_BUFFER_TOO_LARGE'))) {
      throw tooLarge;
    }
    throw new HttpError(400, 'Body is not valid gzip data');
  }
  if (file.length === 0) throw emptyBody();
  return file;
}

function emptyBody(): HttpError {
  return new HttpError(400, 'Request body is empty: send the CSV file as the body');
}

function hasCode(error: Error, code: string): boolean {
  return 'code' in error && error.code === code;
}

/** The layout from the header row, then every record counted with the same reader the processor uses. */
async function inspectCsv(
  options: Pick<UploadOptions, 'importType' | 'format' | 'meterCode'>,
  file: Buffer,
): Promise<{ layout: LayoutName; totalRows: number }> {
  try {
    const plan = resolveLayoutFromHead(options.importType, file.subarray(0, HEAD_BYTES), {
      isTruncated: file.length > HEAD_BYTES,
      format: options.format,
      meterCode: options.meterCode,
    });
    let records = 0;
    let nonBlankDataRows = 0;
    for await (const batch of readCsvRecordBatches(chunksOf(file))) {
      for (const record of batch) {
        if (records > 0 && record.fields.some((field) => field.trim() !== '')) nonBlankDataRows++;
        records++;
      }
    }
    if (nonBlankDataRows === 0) throw new HttpError(422, 'No data rows: the file has a header row only');
    return { layout: plan.name, totalRows: nonBlankDataRows };
  } catch (error) {
    throw toUploadError(error);
  }
}

async function* chunksOf(file: Buffer): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < file.length; offset += SCAN_CHUNK_BYTES) {
    yield file.subarray(offset, offset + SCAN_CHUNK_BYTES);
  }
}

function toUploadError(error: unknown): unknown {
  if (error instanceof LayoutError) {
    const details =
      error.headers.length === 0 ? { code: error.code } : { code: error.code, headers: error.headers };
    return new HttpError(error.statusCode, error.message, details);
  }
  if (error instanceof FileFormatError) return new HttpError(422, error.message, { code: error.code });
  if (error instanceof CsvFormatError) {
    // Not text at all (encoding) is a bad request; text that is not usable CSV is unprocessable.
    const notText = error.code === 'invalid-utf8' || error.code === 'utf16' || error.code === 'binary';
    return new HttpError(notText ? 400 : 422, error.message, { code: error.code });
  }
  return error;
}

function fingerprint(options: UploadOptions, file: Buffer): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        options.importType,
        options.dryRun,
        options.priority,
        options.maxRetries,
        options.filename,
        options.defaultSiteId ?? null,
        options.format ?? null,
        options.meterCode ?? null,
        createHash('sha256').update(file).digest('hex'),
      ]),
    )
    .digest('hex');
}
