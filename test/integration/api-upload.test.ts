import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashToken } from '../../lib/auth.js';
import {
  AUTH,
  bodyOf,
  type Call,
  caller,
  csvUpload,
  jobRow,
  migrate,
  storedCounts,
  TOKEN,
} from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { raceBehindHeldKey } from '../helpers/idempotency-lock.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

const DAILY = 'MPAN,Date,Reading,Unit\nE06BG12862,09/11/2024,123.45,kWh\nE06BG12862,10/11/2024,120,\n';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let testDb: TestDatabase;
let call: Call;
let countsBefore: { jobs: number; chunks: number };

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 5 });
  await migrate(testDb);
  call = caller(testDb);
});

afterAll(async () => {
  await testDb.drop();
});

beforeEach(async () => {
  countsBefore = await storedCounts(testDb);
});

// Every handler test proves the connection accounting: 0 app-user sessions before and after it.
proveSessionAccounting(() => testDb);

async function expectNothingStored(): Promise<void> {
  expect(await storedCounts(testDb)).toEqual(countsBefore);
}

async function storedFile(batchId: string): Promise<Buffer> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>(
    `SELECT chunk.data FROM import_file_chunks AS chunk JOIN import_jobs AS job ON job.id = chunk.job_id
      WHERE job.batch_id = ? ORDER BY chunk.chunk_no`,
    [batchId],
  );
  return Buffer.concat(rows.map((row) => Buffer.from(row.data)));
}

describe('POST /api/import/jobs', () => {
  it('queues the job with its row count and gzipped file, and answers 202 with a Location', async () => {
    const response = await call(csvUpload(DAILY, { type: 'daily', filename: 'november.csv' }));

    expect(response.statusCode).toBe(202);
    const job = bodyOf(response);
    expect(job.batch_id).toMatch(UUID);
    expect(response.headers?.location).toBe(`/api/import/jobs/${String(job.batch_id)}`);
    expect(job).toEqual({
      batch_id: expect.stringMatching(UUID),
      filename: 'november.csv',
      import_type: 'daily',
      status: 'queued',
      priority: 'normal',
      dry_run: false,
      total_rows: 2,
      processed_rows: 0,
      imported_rows: 0,
      failed_rows: 0,
      progress_percent: 0,
      retry_count: 0,
      max_retries: 3,
      retry_at: null,
      summary: null,
      error_message: null,
      error_code: null,
      last_error: null,
      notes: null,
      tags: null,
      metadata: {},
      queued_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      started_at: null,
      completed_at: null,
    });
    expect(await storedCounts(testDb)).toEqual({
      jobs: countsBefore.jobs + 1,
      chunks: countsBefore.chunks + 1,
    });
    expect(gunzipSync(await storedFile(String(job.batch_id))).toString('utf8')).toBe(DAILY);
    const row = await jobRow(testDb, String(job.batch_id));
    expect(row).toMatchObject({ status: 'queued', total_rows: 2, idempotency_key: null, user_id: null });
  });

  it('stores the options: dry run, priority, retries and the default site', async () => {
    const response = await call(
      csvUpload(DAILY, {
        type: 'daily',
        dry_run: 'true',
        priority: 'high',
        max_retries: '0',
        default_site_id: '17',
      }),
    );
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toMatchObject({
      dry_run: true,
      priority: 'high',
      max_retries: 0,
      metadata: { default_site_id: 17 },
    });
    const row = await jobRow(testDb, String(bodyOf(response).batch_id));
    expect(row).toMatchObject({ dry_run: 1, priority: 'high', max_retries: 0 });
    expect(JSON.parse(String(row.metadata))).toMatchObject({ default_site_id: 17 });
  });

  it('accepts a gzip body delivered base64-encoded, and stores those gzip bytes as they came', async () => {
    const gzipped = gzipSync(Buffer.from(DAILY));
    const response = await call(csvUpload(gzipped, { type: 'daily' }, { 'content-encoding': 'gzip' }));
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response).total_rows).toBe(2);
    expect((await storedFile(String(bodyOf(response).batch_id))).equals(gzipped)).toBe(true);
  });

  it('accepts Content-Type application/gzip without Content-Encoding', async () => {
    const gzipped = gzipSync(Buffer.from(DAILY));
    const response = await call(
      csvUpload(gzipped, { type: 'daily' }, { 'content-type': 'application/gzip' }),
    );
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response).total_rows).toBe(2);
  });

  it('keeps only the last segment of a path-traversal filename and never echoes the path', async () => {
    const response = await call(csvUpload(DAILY, { type: 'daily', filename: '../../etc/passwd' }));
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response).filename).toBe('passwd');
    expect(String(response.body)).not.toContain('etc');
  });

  it('stores a file larger than one chunk in several chunks that gunzip to the original', async () => {
    // Random meter codes, so gzip cannot squeeze the file into one 512 KiB chunk.
    const rows = Array.from(
      { length: 60_000 },
      (_, i) => `M${randomBytes(12).toString('hex')},09/11/2024,${i}.5\n`,
    );
    const csv = `MPAN,Date,Reading\n${rows.join('')}`;
    const response = await call(
      csvUpload(Buffer.from(csv), { type: 'daily' }, { 'content-type': 'text/plain' }),
    );
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response).total_rows).toBe(60_000);
    const counts = await storedCounts(testDb);
    expect(counts.chunks - countsBefore.chunks).toBeGreaterThan(1);
    expect(gunzipSync(await storedFile(String(bodyOf(response).batch_id))).toString('utf8')).toBe(csv);
  });

  describe('rejections store nothing', () => {
    it.each([
      ['a missing type', { filename: 'x.csv' }, {}, DAILY, 400, 'type must be one of: hh, daily, sites'],
      ['an unknown type', { type: 'weekly' }, {}, DAILY, 400, 'type must be one of: hh, daily, sites'],
      ['a bad priority', { type: 'daily', priority: 'asap' }, {}, DAILY, 400, /^priority must be one of/],
      ['max_retries over 10', { type: 'daily', max_retries: '11' }, {}, DAILY, 400, /^max_retries/],
      ['a bad default_site_id', { type: 'daily', default_site_id: '-3' }, {}, DAILY, 400, /^default_site_id/],
      [
        'an empty body',
        { type: 'daily' },
        {},
        '',
        400,
        'Request body is empty: send the CSV file as the body',
      ],
      [
        'JSON',
        { type: 'daily' },
        { 'content-type': 'application/json' },
        DAILY,
        415,
        /^Content-Type must be/,
      ],
      [
        'a bad Idempotency-Key',
        { type: 'daily' },
        { 'idempotency-key': 'x'.repeat(201) },
        DAILY,
        400,
        'Idempotency-Key must be 1 to 200 printable ASCII characters',
      ],
      [
        'a header without a meter column',
        { type: 'daily' },
        {},
        'Site,Date,Reading\nHQ,09/11/2024,1\n',
        422,
        'CSV must include a column containing the meter identifier (e.g. MPAN or MeterCode), or the request must name the meter (meter=<code>). Headers detected: Site, Date, Reading',
      ],
      [
        'a header without HH or interval columns',
        { type: 'hh' },
        {},
        'MPAN,Date,Reading\nE1,09/11/2024,1\n',
        422,
        /^No hh layout fits these headers \(hh-matrix: no numbered half-hour columns \(HH01\.\.HH48\);/,
      ],
      ['a header only', { type: 'daily' }, {}, 'MPAN,Date,Reading\n', 422, /^No data rows/],
    ])('answers %s with %s', async (_, query, headers, body, statusCode, message) => {
      const response = await call(csvUpload(body, query, headers));
      expect(response.statusCode).toBe(statusCode);
      expect(bodyOf(response).error).toEqual(
        typeof message === 'string' ? message : expect.stringMatching(message),
      );
      await expectNothingStored();
    });

    it('answers 400 for invalid UTF-8', async () => {
      const latin1 = Buffer.from('MPAN,Date,Reading,Note\nE06BG12862,09/11/2024,1,caf\xe9\n', 'latin1');
      const response = await call(csvUpload(latin1));
      expect(response.statusCode).toBe(400);
      expect(bodyOf(response)).toEqual({
        error: expect.stringMatching(/^File is not valid UTF-8 text/),
        details: { code: 'invalid-utf8' },
      });
      await expectNothingStored();
    });

    it('answers 413 for a body over IMPORT_MAX_UPLOAD_BYTES', async () => {
      const small = caller(testDb, { IMPORT_MAX_UPLOAD_BYTES: '64' });
      const response = await small(csvUpload(DAILY));
      expect(response.statusCode).toBe(413);
      expect(bodyOf(response).details).toEqual({ max_upload_bytes: 64 });
      await expectNothingStored();
    });

    it('answers 413 for a gzip bomb over IMPORT_MAX_DECOMPRESSED_BYTES', async () => {
      const bomb = gzipSync(
        Buffer.concat([Buffer.from('MPAN,Date,Reading\n'), Buffer.alloc(20_000_000, 0x20)]),
      );
      const small = caller(testDb, { IMPORT_MAX_DECOMPRESSED_BYTES: '1000000' });
      const response = await small(csvUpload(bomb, { type: 'daily' }, { 'content-encoding': 'gzip' }));
      expect(response.statusCode).toBe(413);
      expect(bodyOf(response).error).toBe('File is larger than 1000000 bytes uncompressed');
      await expectNothingStored();
    });

    it('answers 400 for a body that claims gzip but is not', async () => {
      const response = await call(csvUpload(DAILY, { type: 'daily' }, { 'content-encoding': 'gzip' }));
      expect(response.statusCode).toBe(400);
      expect(bodyOf(response).error).toBe('Body is not valid gzip data');
      await expectNothingStored();
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the job for a repeated key: same batch_id, 200, one job stored', async () => {
      const headers = { 'idempotency-key': 'nightly-2024-11-09' };
      const first = await call(csvUpload(DAILY, { type: 'daily' }, headers));
      const second = await call(csvUpload(DAILY, { type: 'daily' }, headers));

      expect(first.statusCode).toBe(202);
      expect(second.statusCode).toBe(200);
      expect(second.headers?.['idempotent-replayed']).toBe('true');
      expect(bodyOf(second).batch_id).toBe(bodyOf(first).batch_id);
      expect(second.headers?.location).toBe(first.headers?.location);
      expect(await storedCounts(testDb)).toEqual({
        jobs: countsBefore.jobs + 1,
        chunks: countsBefore.chunks + 1,
      });
      // Stored as a digest: never the caller's key itself.
      const row = await jobRow(testDb, String(bodyOf(first).batch_id));
      expect(row.idempotency_key).toMatch(/^[0-9a-f]{64}$/);
      expect(String(first.body)).not.toContain('nightly-2024-11-09');
    });

    it('creates one job when two requests with the same key race', async () => {
      const headers = { 'idempotency-key': 'race-1' };
      const responses = await Promise.all([
        call(csvUpload(DAILY, { type: 'daily' }, headers)),
        call(csvUpload(DAILY, { type: 'daily' }, headers)),
      ]);
      expect(responses.map((response) => response.statusCode).sort()).toEqual([200, 202]);
      expect(new Set(responses.map((response) => bodyOf(response).batch_id)).size).toBe(1);
      expect((await storedCounts(testDb)).jobs).toBe(countsBefore.jobs + 1);
    });

    it('creates one job and replays it to the rest when three requests race behind a held key lock', async () => {
      // Queued behind an uncommitted insert of the key that then rolls back, the three requests all
      // take the key's shared lock and then want it exclusive: InnoDB picks deadlock victims (1213).
      const headers = { 'idempotency-key': 'race-held' };
      const responses = await raceBehindHeldKey(testDb, 'race-held', 3, () =>
        call(csvUpload(DAILY, { type: 'daily' }, headers)),
      );
      const statuses = responses.map((response) => response.statusCode);
      expect(statuses.sort(), JSON.stringify(responses.map((response) => response.body))).toEqual([
        200, 200, 202,
      ]);
      expect(new Set(responses.map((response) => bodyOf(response).batch_id)).size).toBe(1);
      expect(await storedCounts(testDb)).toEqual({
        jobs: countsBefore.jobs + 1,
        chunks: countsBefore.chunks + 1,
      });
    });

    it('tells keys apart by case (the column collation is case-insensitive, the digest is not)', async () => {
      const lower = await call(csvUpload(DAILY, { type: 'daily' }, { 'idempotency-key': 'case-key' }));
      const upper = await call(csvUpload(DAILY, { type: 'daily' }, { 'idempotency-key': 'CASE-KEY' }));
      expect([lower.statusCode, upper.statusCode]).toEqual([202, 202]);
      expect(bodyOf(upper).batch_id).not.toBe(bodyOf(lower).batch_id);
    });

    it('answers 422 when the key was used for a different upload, and stores nothing', async () => {
      const headers = { 'idempotency-key': 'reused-key' };
      expect((await call(csvUpload(DAILY, { type: 'daily' }, headers))).statusCode).toBe(202);
      const after = await storedCounts(testDb);
      const response = await call(
        csvUpload(`${DAILY}E06BG12862,11/11/2024,5,kWh\n`, { type: 'daily' }, headers),
      );
      expect(response.statusCode).toBe(422);
      expect(bodyOf(response)).toEqual({ error: 'Idempotency-Key was already used for a different upload' });
      expect(await storedCounts(testDb)).toEqual(after);
    });
  });
});

describe('authentication', () => {
  it('answers 401 with WWW-Authenticate for a missing token, before any connection is opened', async () => {
    // The database port is closed: a handler that connected first would fail with a 500, not a 401.
    const unreachable = caller(testDb, { DB_PORT: '1', DB_CONNECT_TIMEOUT_MS: '200' });
    for (const event of [
      httpEvent('GET', '/api/import/jobs'),
      httpEvent('POST', '/api/import/jobs', { query: { type: 'daily' }, body: DAILY }),
      httpEvent('POST', '/api/import/jobs/00000000-0000-4000-8000-000000000000/cancel'),
    ]) {
      const response = await unreachable(event);
      expect(response.statusCode).toBe(401);
      expect(response.headers?.['www-authenticate']).toBe('Bearer');
      expect(bodyOf(response)).toEqual({ error: 'Unauthorized' });
    }
    await expectNothingStored();
  });

  it('answers 401 for a wrong token, another scheme, or a token sent without a scheme', async () => {
    for (const authorization of [`Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN, 'Bearer ']) {
      const response = await call(csvUpload(DAILY, { type: 'daily' }, { authorization }));
      expect(response.statusCode).toBe(401);
      expect(bodyOf(response)).toEqual({ error: 'Unauthorized' });
    }
    await expectNothingStored();
  });

  it('fails closed when no token is configured: 401 for every authenticated route, health still answers', async () => {
    const unconfigured = caller(testDb, { API_TOKEN_HASHES: '' });
    const listed = await unconfigured(httpEvent('GET', '/api/import/jobs', { headers: AUTH }));
    expect(listed.statusCode).toBe(401);
    const health = await unconfigured(httpEvent('GET', '/api/health'));
    expect(health.statusCode).toBe(200);
  });

  it('accepts any of several configured tokens', async () => {
    const other = 'second-token-for-rotation';
    const rotated = caller(testDb, { API_TOKEN_HASHES: `${hashToken(other)},${hashToken(TOKEN)}` });
    for (const token of [other, TOKEN]) {
      const response = await rotated(
        httpEvent('GET', '/api/import/jobs', { headers: { authorization: `Bearer ${token}` } }),
      );
      expect(response.statusCode).toBe(200);
    }
  });
});

describe('routing, CORS and error hygiene', () => {
  it('answers JSON 404 for an unknown route and 405 with Allow for a wrong method', async () => {
    const unknown = await call(httpEvent('GET', '/api/import/nothing', { headers: AUTH }));
    expect(unknown.statusCode).toBe(404);
    expect(bodyOf(unknown)).toEqual({ error: 'Route not found' });
    const wrongMethod = await call(httpEvent('DELETE', '/api/import/jobs', { headers: AUTH }));
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers?.allow).toBe('POST, GET');
  });

  it('answers 400 for malformed percent-encoding in the path', async () => {
    const response = await call(httpEvent('GET', '/api/import/jobs/%E0%A4%A', { headers: AUTH }));
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toEqual({ error: 'Malformed percent-encoding in the path' });
  });

  it('echoes an allowed Origin (never *) and gives others no CORS header', async () => {
    const cors = caller(testDb, { CORS_ALLOWED_ORIGINS: 'https://app.example.com' });
    const allowed = await cors(
      httpEvent('GET', '/api/import/jobs', { headers: { ...AUTH, origin: 'https://app.example.com' } }),
    );
    expect(allowed.headers?.['access-control-allow-origin']).toBe('https://app.example.com');
    expect(allowed.headers?.['access-control-expose-headers']).toBe('Location');
    expect(allowed.headers?.vary).toBe('Origin');
    const other = await cors(
      httpEvent('GET', '/api/import/jobs', { headers: { ...AUTH, origin: 'https://evil.example.net' } }),
    );
    expect(other.headers?.['access-control-allow-origin']).toBeUndefined();
    const unauthorised = await cors(
      httpEvent('GET', '/api/import/jobs', { headers: { origin: 'https://app.example.com' } }),
    );
    expect(unauthorised.statusCode).toBe(401);
    expect(unauthorised.headers?.['access-control-allow-origin']).toBe('https://app.example.com');
  });
});
