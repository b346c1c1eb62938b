import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../lib/errors.js';
import {
  parseUpload,
  parseUploadOptions,
  sanitizeFilename,
  type UploadLimits,
} from '../../lib/imports/upload.js';

const LIMITS: UploadLimits = { maxUploadBytes: 6 * 1024 * 1024, maxDecompressedBytes: 64 * 1024 * 1024 };
const CSV_HEADERS = { 'content-type': 'text/csv' };
const DAILY = 'MPAN,Date,Reading\nE06BG12862,09/11/2024,12.5\nE06BG12862,10/11/2024,13.75\n';

function upload(
  body: Buffer | string,
  query: Record<string, string> = { type: 'daily' },
  headers: Record<string, string> = CSV_HEADERS,
  limits: UploadLimits = LIMITS,
) {
  return parseUpload(
    { query, headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8') },
    limits,
  );
}

async function httpError(promise: Promise<unknown>): Promise<HttpError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof HttpError)) throw new Error(`expected an HttpError, got ${String(error)}`);
  return error;
}

function syncHttpError(action: () => unknown): HttpError {
  try {
    action();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected an HttpError, got none');
}

describe('parseUploadOptions', () => {
  it('applies the defaults', () => {
    expect(parseUploadOptions({ type: 'hh' }, CSV_HEADERS)).toEqual({
      importType: 'hh',
      dryRun: false,
      priority: 'normal',
      maxRetries: 3,
      filename: 'upload.csv',
      defaultSiteId: undefined,
      idempotencyKeyDigest: undefined,
      gzipped: false,
    });
  });

  it('reads every option', () => {
    const options = parseUploadOptions(
      {
        type: 'sites',
        dry_run: '1',
        priority: 'critical',
        max_retries: '10',
        filename: 'sites.csv',
        default_site_id: '42',
      },
      { 'content-type': 'text/csv; charset=UTF-8', 'idempotency-key': 'upload-2024-11-09' },
    );
    expect(options).toEqual({
      importType: 'sites',
      dryRun: true,
      priority: 'critical',
      maxRetries: 10,
      filename: 'sites.csv',
      defaultSiteId: 42,
      idempotencyKeyDigest: createHash('sha256').update('upload-2024-11-09').digest('hex'),
      gzipped: false,
    });
  });

  it('answers 400 naming the allowed types for a missing or unknown type', () => {
    for (const query of [{}, { type: 'HH' }, { type: 'monthly' }]) {
      const error = syncHttpError(() => parseUploadOptions(query, CSV_HEADERS));
      expect(error.statusCode).toBe(400);
      expect(error.message).toBe('type must be one of: hh, daily, sites');
    }
  });

  it.each([
    ['dry_run', 'maybe', 'dry_run must be 1 or 0 (true or false)'],
    ['priority', 'urgent', 'priority must be one of: low, normal, high, critical'],
    ['max_retries', '11', 'max_retries must be a whole number from 0 to 10'],
    ['max_retries', '-1', 'max_retries must be a whole number from 0 to 10'],
    ['max_retries', '2.5', 'max_retries must be a whole number from 0 to 10'],
    ['default_site_id', '0', 'default_site_id must be a positive whole number'],
    ['default_site_id', '12a', 'default_site_id must be a positive whole number'],
    ['default_site_id', '99999999999999999', 'default_site_id must be a positive whole number'],
  ])('answers 400 for %s=%s', (name, value, message) => {
    const error = syncHttpError(() => parseUploadOptions({ type: 'daily', [name]: value }, CSV_HEADERS));
    expect(error.statusCode).toBe(400);
    expect(error.message).toBe(message);
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['too long', 'k'.repeat(201)],
    ['non-ASCII', 'clé'],
    ['with a control character', 'a\tb'],
  ])('answers 400 for an Idempotency-Key that is %s', (_, key) => {
    const error = syncHttpError(() =>
      parseUploadOptions({ type: 'daily' }, { ...CSV_HEADERS, 'idempotency-key': key }),
    );
    expect(error.statusCode).toBe(400);
    expect(error.message).toBe('Idempotency-Key must be 1 to 200 printable ASCII characters');
  });

  it('accepts a 200-character Idempotency-Key', () => {
    const options = parseUploadOptions(
      { type: 'daily' },
      { ...CSV_HEADERS, 'idempotency-key': 'k'.repeat(200) },
    );
    expect(options.idempotencyKeyDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['text/csv', false],
    ['text/plain; charset=utf-8', false],
    ['application/octet-stream', false],
    ['application/gzip', true],
    ['Application/GZIP', true],
  ])('accepts Content-Type %s (gzip: %s)', (contentType, gzipped) => {
    expect(parseUploadOptions({ type: 'daily' }, { 'content-type': contentType }).gzipped).toBe(gzipped);
  });

  it.each([
    ['missing', {}],
    ['JSON', { 'content-type': 'application/json' }],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['Latin-1 CSV', { 'content-type': 'text/csv; charset=iso-8859-1' }],
    ['brotli', { 'content-type': 'text/csv', 'content-encoding': 'br' }],
  ])('answers 415 for %s', (_, headers) => {
    expect(syncHttpError(() => parseUploadOptions({ type: 'daily' }, headers)).statusCode).toBe(415);
  });

  it('treats Content-Encoding: gzip as a compressed body', () => {
    const options = parseUploadOptions({ type: 'daily' }, { ...CSV_HEADERS, 'content-encoding': 'gzip' });
    expect(options.gzipped).toBe(true);
  });
});

describe('sanitizeFilename', () => {
  it.each([
    [undefined, 'upload.csv'],
    ['', 'upload.csv'],
    ['readings.csv', 'readings.csv'],
    ['../../etc/passwd', 'passwd'],
    ['/var/www/uploads/readings.csv', 'readings.csv'],
    ['C:\\Users\\me\\Desktop\\readings.csv', 'readings.csv'],
    ['..', 'upload.csv'],
    ['uploads/', 'upload.csv'],
    ['evil\u0000name\r\n.csv', 'evilname.csv'],
    ['invoice\u202Evsc.exe', 'invoicevsc.exe'],
    ['  spaced name.csv  ', 'spaced name.csv'],
    ['Ünïcödé 📈.csv', 'Ünïcödé 📈.csv'],
  ])('turns %j into %j', (input, expected) => {
    expect(sanitizeFilename(input)).toBe(expected);
  });

  it('keeps at most 255 characters without splitting a character in two', () => {
    const name = sanitizeFilename(`${'📈'.repeat(300)}.csv`);
    expect(Array.from(name)).toHaveLength(255);
    expect(name).toBe('📈'.repeat(255));
  });
});

describe('parseUpload', () => {
  it('counts the data rows, detects the layout and gzips the file for storage', async () => {
    const result = await upload(DAILY);
    expect(result.totalRows).toBe(2);
    expect(result.layout).toBe('daily');
    expect(gunzipSync(result.gzippedFile).toString('utf8')).toBe(DAILY);
  });

  it('counts records, not lines: quoted line breaks, CRLF, blank lines and a missing final newline', async () => {
    const csv = 'name,postcode\r\n"Head\r\nOffice",SW1A 1AA\r\n\r\nLeeds,LS1 1AA\r\nYork,YO1 7HH';
    const result = await upload(csv, { type: 'sites' });
    expect(result.totalRows).toBe(3);
    expect(result.layout).toBe('sites');
  });

  it('does not count rows whose cells are all empty, as the processor does not', async () => {
    const result = await upload('MPAN,Date,Reading\nE1,2024-01-01,1\n,,\n , ,\nE1,2024-01-02,2\n');
    expect(result.totalRows).toBe(2);
  });

  it('keeps a gzip upload as it came and checks its decompressed content', async () => {
    const gzipped = gzipSync(Buffer.from(DAILY));
    const result = await upload(gzipped, { type: 'daily' }, { 'content-type': 'application/gzip' });
    expect(result.gzippedFile.equals(gzipped)).toBe(true);
    expect(result.totalRows).toBe(2);
  });

  it('detects the hh interval and matrix layouts', async () => {
    const interval = 'MPAN,ReadDateTime,ReadValue,Unit\nE06BG12862,2024-11-09 00:30:00,5.6,kWh\n';
    expect((await upload(interval, { type: 'hh' })).layout).toBe('hh-interval');
    const periods = Array.from({ length: 48 }, (_, i) => `HH${String(i + 1).padStart(2, '0')}`);
    const matrix = `MPAN,Date,${periods.join(',')}\nE06BG12862,09/11/2024,1,2\n`;
    expect((await upload(matrix, { type: 'hh' })).layout).toBe('hh-matrix');
  });

  it('answers 400 for an empty body, and for an empty file inside gzip', async () => {
    expect((await httpError(upload(''))).message).toBe(
      'Request body is empty: send the CSV file as the body',
    );
    const emptyGzip = gzipSync(Buffer.alloc(0));
    const error = await httpError(
      upload(emptyGzip, { type: 'daily' }, { 'content-type': 'application/gzip' }),
    );
    expect(error.statusCode).toBe(400);
  });

  it('answers 413 for a body over the upload limit', async () => {
    const error = await httpError(
      upload(DAILY, { type: 'daily' }, CSV_HEADERS, { ...LIMITS, maxUploadBytes: 20 }),
    );
    expect(error.statusCode).toBe(413);
    expect(error.details).toEqual({ max_upload_bytes: 20 });
  });

  it('answers 413 for a gzip bomb without inflating it past the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x41));
    expect(bomb.length).toBeLessThan(100_000);
    const error = await httpError(
      upload(
        bomb,
        { type: 'daily' },
        { 'content-type': 'text/csv', 'content-encoding': 'gzip' },
        {
          ...LIMITS,
          maxDecompressedBytes: 1024 * 1024,
        },
      ),
    );
    expect(error.statusCode).toBe(413);
    expect(error.message).toBe('File is larger than 1048576 bytes uncompressed');
  });

  it('answers 413 for an uncompressed body over the decompressed limit', async () => {
    const error = await httpError(
      upload(DAILY, { type: 'daily' }, CSV_HEADERS, { ...LIMITS, maxDecompressedBytes: 10 }),
    );
    expect(error.statusCode).toBe(413);
  });

  it('answers 400 for a body that is not gzip although it says so', async () => {
    const error = await httpError(upload(DAILY, { type: 'daily' }, { 'content-type': 'application/gzip' }));
    expect(error.statusCode).toBe(400);
    expect(error.message).toBe('Body is not valid gzip data');
  });

  it('answers 400 for invalid UTF-8, even after the head of the file', async () => {
    const rows = 'E06BG12862,09/11/2024,12.5\n'.repeat(12_000); // ~320 KiB: past the header check's head
    const bad = Buffer.concat([Buffer.from(DAILY + rows), Buffer.from([0xe9, 0x0a])]);
    expect(bad.length).toBeGreaterThan(256 * 1024);
    const error = await httpError(upload(bad));
    expect(error.statusCode).toBe(400);
    expect(error.message).toMatch(/^File is not valid UTF-8 text/);
    expect(error.details).toEqual({ code: 'invalid-utf8' });
  });

  it("answers 422 with the domain's message when the meter column is missing", async () => {
    const error = await httpError(upload('Date,Reading\n09/11/2024,1\n'));
    expect(error.statusCode).toBe(422);
    expect(error.message).toBe(
      'CSV must include a column containing the meter identifier (e.g. MPAN or MeterCode), or the request must name the meter (meter=<code>). Headers detected: Date, Reading',
    );
    expect(error.details).toEqual({ code: 'missing-meter-column', headers: ['Date', 'Reading'] });
  });

  it('answers 422 "No data rows" for a header without data, or with blank rows only', async () => {
    for (const csv of ['MPAN,Date,Reading\n', 'MPAN,Date,Reading', 'MPAN,Date,Reading\n,,\n , ,\n']) {
      const error = await httpError(upload(csv));
      expect(error.statusCode).toBe(422);
      expect(error.message).toBe('No data rows: the file has a header row only');
    }
  });

  it('answers 422 for an unbalanced quote anywhere in the file', async () => {
    const error = await httpError(upload(`${DAILY}E06BG12862,"11/11/2024,1\n`));
    expect(error.statusCode).toBe(422);
    expect(error.details).toEqual({ code: 'unbalanced-quote' });
  });

  it('fingerprints options and content: equal for the same upload, different otherwise', async () => {
    const first = await upload(DAILY);
    const gzipped = await upload(
      gzipSync(Buffer.from(DAILY)),
      { type: 'daily' },
      { 'content-type': 'application/gzip' },
    );
    expect(gzipped.fingerprint).toBe(first.fingerprint);
    expect((await upload(DAILY, { type: 'daily', filename: 'other.csv' })).fingerprint).not.toBe(
      first.fingerprint,
    );
    expect((await upload(`${DAILY}E06BG12862,11/11/2024,1\n`)).fingerprint).not.toBe(first.fingerprint);
  });
});
