import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../functions/api.js';
import { createProcessImportsHandler } from '../../functions/process-imports.js';
import { hashToken } from '../../lib/auth.js';
import type { HttpResponse } from '../../lib/http.js';
import { importJobRoutes } from '../../lib/imports/job-routes.js';
import { ACCEPTED_CONTENT_ENCODINGS, ACCEPTED_CONTENT_TYPES } from '../../lib/imports/upload.js';
import { logger } from '../../lib/logger.js';
import { readingRoutes } from '../../lib/readings/reading-routes.js';
import { importUploadRoutes } from '../../lib/storage/upload-routes.js';
import { AUTH, apiHandler, bodyOf, migrate, seedJob, TOKEN, utc } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { fakeContext } from '../helpers/lambda.js';
import {
  compileEverySchema,
  declaredOperations,
  declaredResponses,
  exercisedResponses,
  methodsOf,
  OPENAPI_PATH,
  openApi,
  validateResponse,
} from '../helpers/openapi.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

// Every response below comes from the real api handler on a real database and must match openapi.yaml;
// the last test proves every operation and every declared status was produced at least once.

const DAILY = 'MPAN,Date,Reading,Unit\nE06BG12862,09/11/2024,123.45,kWh\nE06BG12862,10/11/2024,120,\n';
const SITES = 'Name,postcode\nHead Office,SW1A 1AA\n';
const MAX_USER_CONNECTIONS = 2;
const UPLOADS_ENV = {
  IMPORT_BUCKET: 'openapi-imports',
  IMPORT_S3_ENDPOINT: 'http://127.0.0.1:9',
  AWS_REGION: 'us-east-1',
};

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<HttpResponse>;

let testDb: TestDatabase;
let api: Handler;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: MAX_USER_CONNECTIONS });
  await migrate(testDb);
  // With an imports bucket, so POST /api/import/uploads reaches the database like the other routes.
  api = apiHandler(testDb, UPLOADS_ENV);
});

afterAll(async () => {
  await testDb.drop();
});

beforeEach(async () => {
  await testDb.admin.query('DELETE FROM import_jobs');
});

// Every handler test proves the connection accounting: 0 app-user sessions before and after it.
proveSessionAccounting(() => testDb);

/**
 * Calls the handler, checks the status, validates the response against openapi.yaml, and proves the
 * call left the app user's sessions where they were (0 unless the test holds some itself).
 */
async function exchange(
  pathTemplate: string,
  event: APIGatewayProxyEventV2,
  status: number,
  options: { handler?: Handler; context?: Context; heldSessions?: number } = {},
): Promise<HttpResponse> {
  const response = await (options.handler ?? api)(event, options.context ?? fakeContext());
  expect(response.statusCode, String(response.body)).toBe(status);
  validateResponse(event.requestContext.http.method, pathTemplate, response);
  const held = options.heldSessions ?? 0;
  expect(await testDb.waitForSessions(held)).toBe(held);
  return response;
}

function upload(
  body: string | Buffer,
  query: Record<string, string> = { type: 'daily' },
  headers: Record<string, string> = {},
): APIGatewayProxyEventV2 {
  return httpEvent('POST', '/api/import/jobs', {
    headers: { ...AUTH, 'content-type': 'text/csv', ...headers },
    query,
    body: Buffer.isBuffer(body) ? body.toString('base64') : body,
    isBase64Encoded: Buffer.isBuffer(body),
  });
}

/** One request per authenticated operation, with the given headers (replacing the token). */
function authenticatedRequests(headers: Record<string, string>): Array<[string, APIGatewayProxyEventV2]> {
  const jobPath = `/api/import/jobs/${randomUUID()}`;
  return [
    [
      '/api/import/jobs',
      httpEvent('POST', '/api/import/jobs', {
        headers: { 'content-type': 'text/csv', ...headers },
        query: { type: 'daily' },
        body: DAILY,
      }),
    ],
    ['/api/import/jobs', httpEvent('GET', '/api/import/jobs', { headers })],
    ['/api/import/jobs/{batchId}', httpEvent('GET', jobPath, { headers })],
    ['/api/import/jobs/{batchId}/cancel', httpEvent('POST', `${jobPath}/cancel`, { headers })],
    ['/api/import/jobs/{batchId}/retry', httpEvent('POST', `${jobPath}/retry`, { headers })],
    ['/api/import/uploads', httpEvent('POST', '/api/import/uploads', { headers, query: { type: 'daily' } })],
    [
      '/api/meters/{meter}/readings',
      httpEvent('GET', '/api/meters/E1/readings', {
        headers,
        query: { from: '2025-10-26', to: '2025-10-26' },
      }),
    ],
  ];
}

/** An api handler with an imports bucket: signing is local, so no S3 server has to answer. */
function uploadsApi(): Handler {
  return createApiHandler(testDb.config({ API_TOKEN_HASHES: hashToken(TOKEN), ...UPLOADS_ENV }), {
    s3Credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

function uploadRequest(
  query: Record<string, string> = { type: 'daily' },
  headers: Record<string, string> = {},
) {
  return httpEvent('POST', '/api/import/uploads', { headers: { ...AUTH, ...headers }, query });
}

/** Holds every connection the app user may open, so the next one fails with 1226. */
function saturateAppUser(): Promise<Connection[]> {
  return testDb.openAppSessions(MAX_USER_CONNECTIONS);
}

async function release(held: readonly Connection[]): Promise<void> {
  await Promise.all(held.map((connection) => connection.end()));
}

/** Remaining time that leaves withConnection about 0.5 s of connect retries (deadline margin 1 s). */
const shortInvocation = () => fakeContext(1500);

describe('openapi.yaml', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(OPENAPI_PATH);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('has schemas that all compile under strict JSON Schema 2020-12', () => {
    expect(compileEverySchema()).toBeGreaterThan(20);
  });

  it('declares exactly the routes the router serves, and the router allows exactly the declared methods', async () => {
    const routes = [
      ...importJobRoutes({
        authenticate: async () => undefined,
        limits: { maxUploadBytes: 1, maxDecompressedBytes: 1 },
      }),
      ...importUploadRoutes({ authenticate: async () => undefined, storage: testDb.config().storage }),
      ...readingRoutes({ authenticate: async () => undefined }),
    ].map((route) => `${route.method} ${route.pattern}`);
    // GET /api/health is the one route functions/api.ts adds itself.
    expect(['GET /api/health', ...routes].sort()).toEqual(declaredOperations().sort());

    // The router's own answer for a method nobody serves: 405 with Allow = the methods it routes there.
    for (const path of ['/api/health', '/api/import/jobs']) {
      await exchange(path, httpEvent('PATCH', path), 405);
    }
    const jobPath = `/api/import/jobs/${randomUUID()}`;
    await exchange('/api/import/jobs/{batchId}', httpEvent('DELETE', jobPath), 405);
    await exchange('/api/import/jobs/{batchId}/cancel', httpEvent('GET', `${jobPath}/cancel`), 405);
    await exchange('/api/import/jobs/{batchId}/retry', httpEvent('PUT', `${jobPath}/retry`), 405);
    await exchange('/api/import/uploads', httpEvent('GET', '/api/import/uploads'), 405);
    await exchange('/api/meters/{meter}/readings', httpEvent('POST', '/api/meters/E1/readings'), 405);
    expect(methodsOf('/api/import/jobs').sort()).toEqual(['GET', 'POST']);
  });

  it('lists exactly the media types and encodings the upload accepts, as its 415 messages name them', () => {
    const upload = (openApi.paths as Record<string, Record<string, Record<string, unknown>>>)[
      '/api/import/jobs'
    ]?.post as {
      requestBody: { content: object };
      parameters: Array<{ name: string; schema?: { enum?: string[] } }>;
    };
    expect(Object.keys(upload.requestBody.content).sort()).toEqual([...ACCEPTED_CONTENT_TYPES].sort());
    const encoding = upload.parameters.find((parameter) => parameter.name === 'Content-Encoding');
    expect(encoding?.schema?.enum?.slice().sort()).toEqual([...ACCEPTED_CONTENT_ENCODINGS].sort());
  });

  it('answers a path it does not declare with the RouteNotFound 404', async () => {
    await exchange('/api/import/nothing', httpEvent('GET', '/api/import/nothing', { headers: AUTH }), 404);
  });
});

describe('GET /api/health', () => {
  it('answers 200 healthy', async () => {
    await exchange('/api/health', httpEvent('GET', '/api/health'), 200);
  });

  it('answers 207 degraded for a stuck job', async () => {
    await seedJob(testDb, {
      status: 'processing',
      started_at: utc('- INTERVAL 3 MINUTE'),
      lease_owner: 'crashed-run',
      lease_expires_at: utc('- INTERVAL 1 MINUTE'),
    });
    await exchange('/api/health', httpEvent('GET', '/api/health'), 207);
  });

  it('answers 503 critical for a failure rate over 50 %', async () => {
    await seedJob(testDb, { status: 'completed', completed_at: utc('- INTERVAL 1 HOUR') });
    await seedJob(testDb, { status: 'failed', completed_at: utc('- INTERVAL 1 HOUR') });
    await seedJob(testDb, { status: 'failed', completed_at: utc('- INTERVAL 1 HOUR') });
    await exchange('/api/health', httpEvent('GET', '/api/health'), 503);
  });

  it('answers 503 critical with Retry-After when the app user is at its connection limit', async () => {
    const held = await saturateAppUser();
    try {
      const response = await exchange('/api/health', httpEvent('GET', '/api/health'), 503, {
        context: shortInvocation(),
        heldSessions: MAX_USER_CONNECTIONS,
      });
      expect(response.headers?.['retry-after']).toBe('1');
    } finally {
      await release(held);
    }
  });

  it('answers 503 critical when the database does not answer', async () => {
    const down = apiHandler(testDb, { DB_PORT: '1', DB_CONNECT_TIMEOUT_MS: '500' });
    await exchange('/api/health', httpEvent('GET', '/api/health'), 503, { handler: down });
  });

  it('answers 503 critical naming the code when the import tables are missing', async () => {
    const bare = await createTestDatabase({ maxUserConnections: 1 });
    try {
      const response = await apiHandler(bare)(httpEvent('GET', '/api/health'), fakeContext());
      expect(response.statusCode).toBe(503);
      validateResponse('GET', '/api/health', response);
      expect(bodyOf(response).checks).toMatchObject({ import_queue: { error: 'ER_NO_SUCH_TABLE' } });
      expect(await bare.waitForSessions(0)).toBe(0);
    } finally {
      await bare.drop();
    }
  });
});

describe('POST /api/import/jobs', () => {
  it('answers 202 with Location for CSV, gzip with Content-Encoding, and application/gzip', async () => {
    await exchange('/api/import/jobs', upload(DAILY, { type: 'daily', filename: 'november.csv' }), 202);
    const gzipped = gzipSync(DAILY);
    await exchange(
      '/api/import/jobs',
      upload(gzipped, { type: 'daily' }, { 'content-encoding': 'gzip' }),
      202,
    );
    await exchange(
      '/api/import/jobs',
      upload(gzipped, { type: 'daily' }, { 'content-type': 'application/gzip' }),
      202,
    );
  });

  it('answers 200 with Idempotent-Replayed for a repeated key, and 422 for the key on another upload', async () => {
    const key = { 'idempotency-key': `key-${randomUUID()}` };
    await exchange('/api/import/jobs', upload(DAILY, { type: 'daily', default_site_id: '7' }, key), 202);
    await exchange('/api/import/jobs', upload(DAILY, { type: 'daily', default_site_id: '7' }, key), 200);
    await exchange('/api/import/jobs', upload(DAILY, { type: 'daily', dry_run: '1' }, key), 422);
  });

  it('answers 400 for a bad query value, an empty body, a bad key and a body that is not gzip', async () => {
    await exchange('/api/import/jobs', upload(DAILY, { type: 'monthly' }), 400);
    await exchange('/api/import/jobs', upload(''), 400);
    await exchange('/api/import/jobs', upload(DAILY, { type: 'daily' }, { 'idempotency-key': '   ' }), 400);
    await exchange('/api/import/jobs', upload(DAILY, { type: 'daily' }, { 'content-encoding': 'gzip' }), 400);
  });

  it('answers 409 when the key names a job that vanishes while the request runs', async () => {
    // The race (the key's job is deleted between the duplicate-key error and the read) made certain:
    // every insert fails as a duplicate of the idempotency key, and no job holds that key.
    await testDb.admin.query(
      `CREATE TRIGGER simulate_idempotency_race BEFORE INSERT ON import_jobs FOR EACH ROW
         SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 1062,
           MESSAGE_TEXT = 'Duplicate entry for key ''uq_import_jobs_idempotency'''`,
    );
    try {
      await exchange(
        '/api/import/jobs',
        upload(DAILY, { type: 'daily' }, { 'idempotency-key': 'raced' }),
        409,
      );
    } finally {
      await testDb.admin.query('DROP TRIGGER simulate_idempotency_race');
    }
  });

  it('answers 413 for a body over the upload limit', async () => {
    const small = apiHandler(testDb, { IMPORT_MAX_UPLOAD_BYTES: '64' });
    await exchange('/api/import/jobs', upload(DAILY), 413, { handler: small });
  });

  it('answers 415 for an unsupported Content-Type or Content-Encoding', async () => {
    await exchange(
      '/api/import/jobs',
      upload(DAILY, { type: 'daily' }, { 'content-type': 'application/json' }),
      415,
    );
    await exchange('/api/import/jobs', upload(DAILY, { type: 'daily' }, { 'content-encoding': 'br' }), 415);
  });

  it('answers 422 for a header row that does not fit the type, and for no data rows', async () => {
    await exchange('/api/import/jobs', upload('Site,Date,Reading\nA,09/11/2024,1\n'), 422);
    await exchange('/api/import/jobs', upload('MPAN,Date,Reading\n'), 422);
  });
});

describe('POST /api/import/uploads', () => {
  it('answers 201 with Location and the form, and 200 for a replayed key', async () => {
    const key = { 'idempotency-key': `upload-${randomUUID()}` };
    await exchange('/api/import/uploads', uploadRequest({ type: 'hh', filename: 'big.csv.gz' }, key), 201, {
      handler: uploadsApi(),
    });
    await exchange('/api/import/uploads', uploadRequest({ type: 'hh', filename: 'big.csv.gz' }, key), 200, {
      handler: uploadsApi(),
    });
  });

  it('answers 200 with no form once the replayed job no longer awaits its file', async () => {
    const key = { 'idempotency-key': `upload-${randomUUID()}` };
    await exchange('/api/import/uploads', uploadRequest({ type: 'daily' }, key), 201, {
      handler: uploadsApi(),
    });
    await testDb.admin.query("UPDATE import_jobs SET status = 'queued'");
    const response = await exchange('/api/import/uploads', uploadRequest({ type: 'daily' }, key), 200, {
      handler: uploadsApi(),
    });
    expect(bodyOf(response)).toMatchObject({ status: 'queued', upload: null });
  });

  it('answers 400 for a bad option, 422 for a key reused with other options, 501 without a bucket', async () => {
    await exchange('/api/import/uploads', uploadRequest({ type: 'weekly' }), 400, { handler: uploadsApi() });
    const key = { 'idempotency-key': `upload-${randomUUID()}` };
    await exchange('/api/import/uploads', uploadRequest({ type: 'daily' }, key), 201, {
      handler: uploadsApi(),
    });
    await exchange('/api/import/uploads', uploadRequest({ type: 'sites' }, key), 422, {
      handler: uploadsApi(),
    });
    await exchange('/api/import/uploads', uploadRequest(), 501, { handler: apiHandler(testDb) });
  });

  it('answers 409 when the key names a job that vanishes while the request runs', async () => {
    await testDb.admin.query(
      `CREATE TRIGGER simulate_upload_idempotency_race BEFORE INSERT ON import_jobs FOR EACH ROW
         SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 1062,
           MESSAGE_TEXT = 'Duplicate entry for key ''uq_import_jobs_idempotency'''`,
    );
    try {
      await exchange(
        '/api/import/uploads',
        uploadRequest({ type: 'daily' }, { 'idempotency-key': 'raced' }),
        409,
        {
          handler: uploadsApi(),
        },
      );
    } finally {
      await testDb.admin.query('DROP TRIGGER simulate_upload_idempotency_race');
    }
  });
});

describe('GET /api/import/jobs', () => {
  it('lists jobs the processor finished, with their summaries, and answers 400 for a bad limit', async () => {
    const accepted = [
      upload(DAILY, { type: 'daily', default_site_id: '' }),
      upload(DAILY, { type: 'daily', dry_run: 'true', priority: 'high' }),
      upload(SITES, { type: 'sites' }),
      upload('MPAN,Date,Reading\nE06BG12862,not a date,abc\n'),
    ];
    for (const event of accepted) await exchange('/api/import/jobs', event, 202);
    const processor = createProcessImportsHandler(testDb.config({ IMPORT_STOP_MARGIN_MS: '1000' }));
    const run = await processor({}, fakeContext(30_000));
    expect(await testDb.waitForSessions(0)).toBe(0);
    expect(run).toMatchObject({ task: 'import', jobs: expect.any(Array) });

    const response = await exchange(
      '/api/import/jobs',
      httpEvent('GET', '/api/import/jobs', { headers: AUTH }),
      200,
    );
    const jobs = bodyOf(response).jobs as Array<Record<string, unknown>>;
    expect(jobs.map((job) => job.status).sort()).toEqual(['completed', 'completed', 'completed', 'failed']);
    expect(jobs.every((job) => job.summary !== null && job.started_at !== null)).toBe(true);
    // Each shape of summary.meta the processor writes: real, dry run, sites.
    const metaKeys = new Set(jobs.flatMap((job) => Object.keys(Object(Object(job.summary).meta))));
    expect([...metaKeys]).toEqual(
      expect.arrayContaining(['readings_written', 'readings_to_write', 'meters_to_create', 'sites_created']),
    );

    await exchange(
      '/api/import/jobs',
      httpEvent('GET', '/api/import/jobs', { headers: AUTH, query: { limit: '0' } }),
      400,
    );
  });

  it('pages with next_cursor until it is null', async () => {
    for (let i = 0; i < 3; i++) await seedJob(testDb, { queued_at: `2024-11-09 10:0${i}:00.000` });
    const first = await exchange(
      '/api/import/jobs',
      httpEvent('GET', '/api/import/jobs', { headers: AUTH, query: { limit: '2', status: 'queued' } }),
      200,
    );
    const cursor = bodyOf(first).next_cursor;
    expect(typeof cursor).toBe('string');
    const last = await exchange(
      '/api/import/jobs',
      httpEvent('GET', '/api/import/jobs', { headers: AUTH, query: { limit: '2', cursor: String(cursor) } }),
      200,
    );
    expect(bodyOf(last).next_cursor).toBeNull();
  });
});

describe('GET /api/import/jobs/{batchId}', () => {
  it('answers 200 for a job, 404 for an unknown or non-UUID id, 400 for bad percent-encoding', async () => {
    const batchId = await seedJob(testDb, {
      status: 'failed',
      retry_at: utc('+ INTERVAL 5 MINUTE'),
      error_message: 'The import was interrupted 4 times without finishing',
      error_code: 'RETRIES_EXHAUSTED',
      last_error: 'A database error stopped the import',
      notes: 'from the old system',
      tags: JSON.stringify(['november', 42]),
      metadata: JSON.stringify({ default_site_id: 3, request_sha256: 'abc' }),
      total_rows: 10,
      processed_rows: 3,
    });
    const job = bodyOf(
      await exchange(
        '/api/import/jobs/{batchId}',
        httpEvent('GET', `/api/import/jobs/${batchId.toUpperCase()}`, { headers: AUTH }),
        200,
      ),
    );
    expect(job).toMatchObject({ progress_percent: 30, tags: ['november'], metadata: { default_site_id: 3 } });
    await exchange(
      '/api/import/jobs/{batchId}',
      httpEvent('GET', `/api/import/jobs/${randomUUID()}`, { headers: AUTH }),
      404,
    );
    await exchange(
      '/api/import/jobs/{batchId}',
      httpEvent('GET', '/api/import/jobs/42', { headers: AUTH }),
      404,
    );
    await exchange(
      '/api/import/jobs/{batchId}',
      httpEvent('GET', '/api/import/jobs/%E0%A4%A', { headers: AUTH }),
      400,
    );
  });
});

describe('POST /api/import/jobs/{batchId}/cancel and /retry', () => {
  it('answers 200 for allowed transitions and 409 for the others', async () => {
    const queued = await seedJob(testDb, { status: 'queued' });
    await exchange(
      '/api/import/jobs/{batchId}/cancel',
      httpEvent('POST', `/api/import/jobs/${queued}/cancel`, { headers: AUTH }),
      200,
    );
    await exchange(
      '/api/import/jobs/{batchId}/cancel',
      httpEvent('POST', `/api/import/jobs/${queued}/cancel`, { headers: AUTH }),
      409,
    );
    await exchange(
      '/api/import/jobs/{batchId}/retry',
      httpEvent('POST', `/api/import/jobs/${queued}/retry`, { headers: AUTH }),
      200,
    );
    await exchange(
      '/api/import/jobs/{batchId}/retry',
      httpEvent('POST', `/api/import/jobs/${queued}/retry`, { headers: AUTH }),
      409,
    );
    const purged = await seedJob(testDb, { status: 'failed' }, { withFile: false });
    await exchange(
      '/api/import/jobs/{batchId}/retry',
      httpEvent('POST', `/api/import/jobs/${purged}/retry`, { headers: AUTH }),
      409,
    );
  });

  it('answers 404 for an unknown job and 400 for bad percent-encoding', async () => {
    for (const action of ['cancel', 'retry']) {
      const template = `/api/import/jobs/{batchId}/${action}`;
      await exchange(
        template,
        httpEvent('POST', `/api/import/jobs/${randomUUID()}/${action}`, { headers: AUTH }),
        404,
      );
      await exchange(
        template,
        httpEvent('POST', `/api/import/jobs/%E0%A4%A/${action}`, { headers: AUTH }),
        400,
      );
    }
  });
});

describe('GET /api/meters/{meter}/readings', () => {
  const template = '/api/meters/{meter}/readings';
  const read = (meter: string, query: Record<string, string>) =>
    httpEvent('GET', `/api/meters/${meter}/readings`, { headers: AUTH, query });

  it('answers 200 with readings and pages with next_cursor until it is null', async () => {
    await testDb.admin.query("INSERT IGNORE INTO meters (id, mpan) VALUES (901, 'OPENAPI-1')");
    await testDb.admin.query(
      `INSERT IGNORE INTO meter_readings
         (meter_id, reading_interval, start_utc, settlement_date, period_number, reading_value, reading_type)
       VALUES (901, 'hh', '2025-10-26 00:00:00', '2025-10-26', 3, 0.5, 'actual'),
              (901, 'hh', '2025-10-26 01:00:00', '2025-10-26', 5, 0.25, 'estimated'),
              (901, 'daily', '2025-10-25 23:00:00', '2025-10-26', NULL, 12, 'actual')`,
    );
    const first = bodyOf(
      await exchange(template, read('openapi-1', { from: '2025-10-26', to: '2025-10-26', limit: '1' }), 200),
    );
    expect(typeof first.next_cursor).toBe('string');
    const last = bodyOf(
      await exchange(
        template,
        read('OPENAPI-1', { from: '2025-10-26', to: '2025-10-26', cursor: String(first.next_cursor) }),
        200,
      ),
    );
    expect(last.next_cursor).toBeNull();
    await exchange(
      template,
      read('OPENAPI-1', { from: '2025-10-26', to: '2025-10-26', interval: 'daily' }),
      200,
    );
  });

  it('answers 400 for a bad range, interval, limit, cursor, meter code or path, and 404 for an unknown meter', async () => {
    for (const query of [
      { from: '2025-10-27', to: '2025-10-26' },
      { from: '2025-02-29', to: '2025-03-01' },
      { from: '2025-01-01', to: '2026-01-02' },
      { from: '2025-01-01' },
      { from: '2025-01-01', to: '2025-01-01', interval: 'weekly' },
      { from: '2025-01-01', to: '2025-01-01', limit: '10001' },
      { from: '2025-01-01', to: '2025-01-01', cursor: 'e30' },
    ]) {
      await exchange(template, read('E1', query), 400);
    }
    await exchange(template, read('%3Dcmd', { from: '2025-01-01', to: '2025-01-01' }), 400);
    await exchange(template, read('%E0%A4%A', { from: '2025-01-01', to: '2025-01-01' }), 400);
    await exchange(template, read('NO-SUCH-METER', { from: '2025-01-01', to: '2025-01-01' }), 404);
  });
});

describe('every authenticated operation', () => {
  it('answers 401 with WWW-Authenticate for a missing or wrong token, before opening a connection', async () => {
    for (const [template, event] of [
      ...authenticatedRequests({}),
      ...authenticatedRequests({ authorization: 'Bearer not-the-token' }),
    ]) {
      await exchange(template, event, 401);
    }
  });

  it('answers 500 with a request id when the token secret is malformed', async () => {
    // The detail goes to the log only; keep it out of the test output, and prove it is logged.
    const logged = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const misconfigured = createApiHandler(
      testDb.config({ API_TOKENS_SECRET_ID: 'eclectyc/test/api-tokens' }),
      {
        secrets: { getString: async () => 'not json', clear: () => undefined },
      },
    );
    try {
      const requests = authenticatedRequests(AUTH);
      for (const [template, event] of requests) {
        await exchange(template, event, 500, { handler: misconfigured });
      }
      // One log line per request: the readings route made it seven.
      expect(requests).toHaveLength(7);
      expect(logged).toHaveBeenCalledTimes(requests.length);
      expect(logged).toHaveBeenCalledWith('unhandled error', expect.anything());
    } finally {
      logged.mockRestore();
    }
  });

  it('answers 503 with Retry-After when the app user is at its connection limit', async () => {
    const held = await saturateAppUser();
    try {
      for (const [template, event] of authenticatedRequests(AUTH)) {
        await exchange(template, event, 503, {
          context: shortInvocation(),
          heldSessions: MAX_USER_CONNECTIONS,
        });
      }
    } finally {
      await release(held);
    }
  });
});

// Runs last (Vitest keeps file order): nothing in openapi.yaml may be left unproduced.
describe('coverage of openapi.yaml', () => {
  it('exercised every declared operation and response, and the 404/405 of every path', () => {
    const seen = exercisedResponses();
    expect(declaredResponses().filter((response) => !seen.has(response))).toEqual([]);
    expect(
      declaredOperations().filter((operation) => ![...seen].some((key) => key.startsWith(`${operation} `))),
    ).toEqual([]);
    const paths = new Set(declaredOperations().map((operation) => operation.split(' ')[1]));
    for (const path of paths) {
      expect(
        [...seen].some((key) => key.includes(` ${path} 405 (method not listed)`)),
        path,
      ).toBe(true);
    }
    expect([...seen].some((key) => key.endsWith('404 (route not in the document)'))).toBe(true);
  });
});
