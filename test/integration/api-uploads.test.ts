// Direct uploads end to end against a real s3rver and the real database: POST /api/import/uploads
// signs a form, the client POSTs its file to the local S3 endpoint, the object-created event reaches
// the arrival handler (as the SQS queue delivers it), and the job is queued with its S3 location.

import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../functions/api.js';
import { createProcessImportsHandler } from '../../functions/process-imports.js';
import { createS3UploadArrivedHandler } from '../../functions/s3-upload-arrived.js';
import { hashToken } from '../../lib/auth.js';
import { withConnection } from '../../lib/db.js';
import { type ProcessorOptions, processImports } from '../../lib/imports/processor.js';
import { createS3Client } from '../../lib/storage/s3-client.js';
import { findJobFileLocation } from '../../lib/storage/upload-repository.js';
import { asSqsEvent, LOCAL_S3_CREDENTIALS, type S3Notification } from '../../scripts/local-s3.js';
import { AUTH, bodyOf, csvUpload, jobRow, migrate, TOKEN } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { raceBehindHeldKey } from '../helpers/idempotency-lock.js';
import { intervalCsv } from '../helpers/import-jobs.js';
import { fakeContext } from '../helpers/lambda.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

const DAILY = 'MPAN,Date,Reading,Unit\nE06BG12862,09/11/2024,123.45,kWh\nE06BG12862,10/11/2024,120,\n';
const MAX_OBJECT_BYTES = 1_000_000;

let testDb: TestDatabase;
let s3: TestS3;
let env: Record<string, string>;

beforeAll(async () => {
  [testDb, s3] = await Promise.all([createTestDatabase({ maxUserConnections: 5 }), startTestS3()]);
  await migrate(testDb);
  env = {
    API_TOKEN_HASHES: hashToken(TOKEN),
    IMPORT_BUCKET: s3.bucket,
    IMPORT_S3_ENDPOINT: s3.endpoint,
    AWS_REGION: 'us-east-1',
    IMPORT_MAX_OBJECT_BYTES: String(MAX_OBJECT_BYTES),
    IMPORT_UPLOAD_URL_TTL_S: '600',
  };
});

afterAll(async () => {
  await Promise.all([testDb.drop(), s3.stop()]);
});

beforeEach(async () => {
  await testDb.admin.query('DELETE FROM import_jobs');
  s3.notifications.length = 0;
});

proveSessionAccounting(() => testDb);

function api(overrides: Record<string, string> = {}) {
  const handler = createApiHandler(testDb.config({ ...env, ...overrides }), {
    s3Credentials: { ...LOCAL_S3_CREDENTIALS },
  });
  return (event: APIGatewayProxyEventV2) => handler(event, fakeContext());
}

function requestUpload(query: Record<string, string>, headers: Record<string, string> = AUTH) {
  return httpEvent('POST', '/api/import/uploads', { headers, query });
}

type Ticket = {
  batch_id: string;
  status: string;
  upload: { url: string; fields: Record<string, string>; max_bytes: number } | null;
  expires_at: string | null;
};

async function ticketFor(query: Record<string, string>, headers?: Record<string, string>): Promise<Ticket> {
  const response = await api()(requestUpload(query, headers));
  expect(response.statusCode, String(response.body)).toBe(201);
  return bodyOf(response) as unknown as Ticket;
}

/** The multipart form a browser or curl sends: the fields, then the file. */
async function postForm(ticket: Ticket, file: Buffer | string, extra: Record<string, string> = {}) {
  if (ticket.upload === null) throw new Error('no upload form');
  const form = new FormData();
  for (const [name, value] of Object.entries({ ...ticket.upload.fields, ...extra })) form.append(name, value);
  form.append('file', new Blob([file]), 'ignored-name.csv');
  return fetch(ticket.upload.url, { method: 'POST', body: form });
}

async function waitForNotifications(count: number): Promise<S3Notification[]> {
  for (let attempt = 0; attempt < 100 && s3.notifications.length < count; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return s3.notifications.slice(0, count);
}

function decodedPolicy(ticket: Ticket): { expiration: string; conditions: unknown[] } {
  const policy = ticket.upload?.fields.Policy;
  if (policy === undefined) throw new Error('no Policy field');
  return JSON.parse(Buffer.from(policy, 'base64').toString('utf8'));
}

const arrived = createS3UploadArrivedHandler;

describe('POST /api/import/uploads', () => {
  it('creates an awaiting_upload job and answers 201 with Location and a presigned POST form', async () => {
    const before = Date.now();
    const response = await api()(
      requestUpload({ type: 'daily', filename: '../Readings Nov 2024.csv', priority: 'high', dry_run: '1' }),
    );
    expect(response.statusCode, String(response.body)).toBe(201);
    const ticket = bodyOf(response) as unknown as Ticket;
    expect(response.headers?.location).toBe(`/api/import/jobs/${ticket.batch_id}`);
    expect(ticket.status).toBe('awaiting_upload');
    expect(ticket.upload?.url).toBe(`${s3.endpoint}/${s3.bucket}`);
    expect(ticket.upload?.max_bytes).toBe(MAX_OBJECT_BYTES);
    const key = `imports/${ticket.batch_id}/Readings_Nov_2024.csv`;
    expect(ticket.upload?.fields.key).toBe(key);
    const expiresAtMs = Date.parse(String(ticket.expires_at));
    expect(expiresAtMs).toBeGreaterThanOrEqual(before + 599_000);
    expect(expiresAtMs).toBeLessThanOrEqual(Date.now() + 601_000);
    const row = await jobRow(testDb, ticket.batch_id);
    expect({
      status: row.status,
      filename: row.filename,
      priority: row.priority,
      dry_run: row.dry_run,
      storage: row.storage,
      bucket: row.s3_bucket,
      key: row.s3_key,
      etag: row.s3_etag,
    }).toEqual({
      status: 'awaiting_upload',
      filename: 'Readings Nov 2024.csv',
      priority: 'high',
      dry_run: 1,
      storage: 's3',
      bucket: s3.bucket,
      key,
      etag: null,
    });
  });

  it('signs a policy that binds the exact key, the bucket, the size range and the expiry', async () => {
    const ticket = await ticketFor({ type: 'hh', filename: 'big.csv.gz' });
    const policy = decodedPolicy(ticket);
    expect(policy.conditions).toContainEqual(['content-length-range', 1, MAX_OBJECT_BYTES]);
    expect(policy.conditions).toContainEqual({ key: `imports/${ticket.batch_id}/big.csv.gz` });
    expect(policy.conditions).toContainEqual({ bucket: s3.bucket });
    // No condition lets the key vary (S3 refuses any field the policy does not cover).
    expect(JSON.stringify(policy.conditions)).not.toContain('$key');
    expect(Math.abs(Date.parse(policy.expiration) - Date.parse(String(ticket.expires_at)))).toBeLessThan(
      2000,
    );
  });

  it('replays the same job for a repeated Idempotency-Key and refuses the key for other options', async () => {
    const headers = { ...AUTH, 'idempotency-key': 'upload-1' };
    const first = await ticketFor({ type: 'daily', filename: 'a.csv' }, headers);
    const replay = await api()(requestUpload({ type: 'daily', filename: 'a.csv' }, headers));
    expect(replay.statusCode).toBe(200);
    expect(replay.headers?.['idempotent-replayed']).toBe('true');
    const replayed = bodyOf(replay) as unknown as Ticket;
    expect([replayed.batch_id, replayed.upload?.fields.key, replayed.expires_at]).toEqual([
      first.batch_id,
      first.upload?.fields.key,
      first.expires_at,
    ]);
    const other = await api()(requestUpload({ type: 'hh', filename: 'a.csv' }, headers));
    expect([other.statusCode, bodyOf(other).error]).toEqual([
      422,
      'Idempotency-Key was already used for a different request',
    ]);
    const [rows] = await testDb.admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM import_jobs');
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it('creates one job and replays it to the rest when three requests race behind a held key lock', async () => {
    // As for POST /api/import/jobs: the waiters on a rolled-back insert of the key deadlock (1213).
    const headers = { ...AUTH, 'idempotency-key': 'upload-race' };
    const handler = api();
    const responses = await raceBehindHeldKey(testDb, 'upload-race', 3, () =>
      handler(requestUpload({ type: 'daily' }, headers)),
    );
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.sort(), JSON.stringify(responses.map((response) => response.body))).toEqual([
      200, 200, 201,
    ]);
    expect(new Set(responses.map((response) => bodyOf(response).batch_id)).size).toBe(1);
    const [rows] = await testDb.admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM import_jobs');
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it('keeps format and meter in the job for the processor, and in the Idempotency-Key fingerprint', async () => {
    const headers = { ...AUTH, 'idempotency-key': 'upload-octopus' };
    const query = { type: 'hh', meter: 'A-1B2C3D4E', format: 'hh-octopus' };
    const first = await ticketFor(query, headers);
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      'SELECT metadata FROM import_jobs WHERE batch_id = ?',
      [first.batch_id],
    );
    expect(JSON.parse(String(rows[0]?.metadata))).toMatchObject({
      format: 'hh-octopus',
      meter: 'A-1B2C3D4E',
    });
    const otherMeter = await api()(requestUpload({ ...query, meter: 'A-9' }, headers));
    expect(otherMeter.statusCode).toBe(422);
    const badFormat = await api()(requestUpload({ type: 'hh', format: 'excel' }));
    expect([badFormat.statusCode, bodyOf(badFormat).details]).toEqual([400, { code: 'unknown-format' }]);
  });

  it('answers 400 for a bad option and 401 without a token, storing nothing', async () => {
    const bad = await api()(requestUpload({ type: 'weekly' }));
    const unauthenticated = await api()(requestUpload({ type: 'daily' }, {}));
    expect([bad.statusCode, unauthenticated.statusCode]).toEqual([400, 401]);
    const [rows] = await testDb.admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM import_jobs');
    expect(Number(rows[0]?.n)).toBe(0);
  });

  it('answers 501 when the stage has no imports bucket', async () => {
    const response = await api({ IMPORT_BUCKET: '' })(requestUpload({ type: 'daily' }));
    expect([response.statusCode, bodyOf(response).error]).toEqual([
      501,
      'Direct uploads are not enabled here; send the file to POST /api/import/jobs',
    ]);
  });

  it('lists awaiting_upload jobs under their status filter', async () => {
    const ticket = await ticketFor({ type: 'daily' });
    const response = await api()(
      httpEvent('GET', '/api/import/jobs', { headers: AUTH, query: { status: 'awaiting_upload' } }),
    );
    expect((bodyOf(response).jobs as Array<{ batch_id: string }>).map((job) => job.batch_id)).toEqual([
      ticket.batch_id,
    ]);
  });

  it('cancels a job still awaiting its upload', async () => {
    const ticket = await ticketFor({ type: 'daily' });
    const response = await api()(
      httpEvent('POST', `/api/import/jobs/${ticket.batch_id}/cancel`, { headers: AUTH }),
    );
    expect([response.statusCode, bodyOf(response).status]).toEqual([200, 'cancelled']);
  });
});

describe('upload arrival (S3 event → awaiting_upload → queued)', () => {
  it('queues the job with its S3 location once the form upload arrives', async () => {
    const ticket = await ticketFor({ type: 'daily', filename: 'nov.csv' });
    const upload = await postForm(ticket, DAILY);
    expect(upload.status).toBe(204);
    const [notification = {}] = await waitForNotifications(1);
    const result = await arrived(testDb.config(env))(asSqsEvent(notification, 'm1') as never, fakeContext());
    expect(result).toEqual({ batchItemFailures: [] });
    const row = await jobRow(testDb, ticket.batch_id);
    expect([row.status, row.s3_size_bytes, typeof row.s3_etag]).toEqual([
      'queued',
      Buffer.byteLength(DAILY),
      'string',
    ]);
    const located = await withConnection(testDb.config().db, (db) => findJobFileLocation(db, Number(row.id)));
    expect(located).toEqual({
      location: {
        kind: 's3',
        bucket: s3.bucket,
        key: `imports/${ticket.batch_id}/nov.csv`,
        etag: row.s3_etag,
      },
      checkpointByteOffset: 0,
    });
  });

  it('changes nothing for a repeated or late event with the same key and ETag', async () => {
    const ticket = await ticketFor({ type: 'daily', filename: 'd.csv.gz' });
    await postForm(ticket, gzipSync(DAILY), { 'Content-Encoding': 'gzip' });
    const [notification = {}] = await waitForNotifications(1);
    const handler = arrived(testDb.config(env));
    await handler(asSqsEvent(notification, 'm1') as never, fakeContext());
    await testDb.admin.query("UPDATE import_jobs SET status = 'processing' WHERE batch_id = ?", [
      ticket.batch_id,
    ]);
    const before = await jobRow(testDb, ticket.batch_id);
    const again = await handler(asSqsEvent(notification, 'm2') as never, fakeContext());
    expect(again).toEqual({ batchItemFailures: [] });
    expect(await jobRow(testDb, ticket.batch_id)).toEqual(before);
  });

  it('leaves an object whose key matches no awaiting job alone, and an expired job expired', async () => {
    const ticket = await ticketFor({ type: 'daily', filename: 'late.csv' });
    await testDb.admin.query("UPDATE import_jobs SET status = 'expired' WHERE batch_id = ?", [
      ticket.batch_id,
    ]);
    await postForm(ticket, DAILY);
    const stray = {
      Records: [
        {
          eventName: 'ObjectCreated:Put',
          s3: {
            bucket: { name: s3.bucket },
            object: { key: `imports/${randomUUID()}/x.csv`, eTag: 'e', size: 1 },
          },
        },
      ],
    };
    const [late = {}] = await waitForNotifications(1);
    const handler = arrived(testDb.config(env));
    const result = await handler(
      { Records: [...asSqsEvent(late, 'm1').Records, ...asSqsEvent(stray, 'm2').Records] } as never,
      fakeContext(),
    );
    expect(result).toEqual({ batchItemFailures: [] });
    expect((await jobRow(testDb, ticket.batch_id)).status).toBe('expired');
  });

  it('fails only the message whose statement fails, and logs the failure without its SQL text', async () => {
    const ticket = await ticketFor({ type: 'daily', filename: 'odd.csv' });
    const key = String(ticket.upload?.fields.key);
    // An ETag longer than its column: the UPDATE fails as a statement error, the connection stays up.
    const odd = {
      Records: [
        {
          eventName: 'ObjectCreated:Post',
          s3: { bucket: { name: s3.bucket }, object: { key, eTag: 'f'.repeat(300), size: 7 } },
        },
      ],
    };
    const written: string[] = [];
    const capture = (...chunks: unknown[]) => {
      written.push(chunks.map(String).join(' '));
      return true;
    };
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation(capture),
      vi.spyOn(process.stderr, 'write').mockImplementation(capture),
      ...(['log', 'info', 'warn', 'error'] as const).map((level) =>
        vi.spyOn(console, level).mockImplementation(capture),
      ),
    ];
    let result: unknown;
    try {
      result = await arrived(testDb.config(env))(asSqsEvent(odd, 'm1') as never, fakeContext());
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    const logs = written.join('');
    expect(logs).toContain('upload event failed');
    expect(logs).not.toContain('UPDATE import_jobs');
    expect((await jobRow(testDb, ticket.batch_id)).status).toBe('awaiting_upload');
  });

  it('ignores the s3:TestEvent without opening a connection', async () => {
    const handler = arrived(testDb.config(env));
    const test = {
      Records: [
        { ...asSqsEvent({}, 'm1').Records[0], body: '{"Service":"Amazon S3","Event":"s3:TestEvent"}' },
      ],
    };
    expect(await handler(test as never, fakeContext())).toEqual({ batchItemFailures: [] });
  });

  it('reports every message as failed when the database refuses the connection, so SQS redelivers', async () => {
    const ticket = await ticketFor({ type: 'daily', filename: 'retry.csv' });
    await postForm(ticket, DAILY);
    const [notification = {}] = await waitForNotifications(1);
    const held = await testDb.openAppSessions(5);
    try {
      const handler = arrived(testDb.config({ ...env, DB_CONNECT_RETRY_BUDGET_MS: '0' }));
      const result = await handler(asSqsEvent(notification, 'm1') as never, fakeContext(1500));
      expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    } finally {
      await Promise.all(held.map((connection) => connection.end()));
    }
    expect((await jobRow(testDb, ticket.batch_id)).status).toBe('awaiting_upload');
  });
});

describe('expiry of uploads that never arrive (daily purge)', () => {
  it('expires jobs past their URL lifetime plus the margin, and only those', async () => {
    const overdue = await ticketFor({ type: 'daily', filename: 'overdue.csv' });
    const recent = await ticketFor({ type: 'daily', filename: 'recent.csv' });
    // overdue: its URL expired 2 h ago; recent: 30 min ago, inside the 1 h margin.
    await testDb.admin.query(
      'UPDATE import_jobs SET upload_expires_at = UTC_TIMESTAMP(3) - INTERVAL ? MINUTE WHERE batch_id = ?',
      [120, overdue.batch_id],
    );
    await testDb.admin.query(
      'UPDATE import_jobs SET upload_expires_at = UTC_TIMESTAMP(3) - INTERVAL ? MINUTE WHERE batch_id = ?',
      [30, recent.batch_id],
    );
    const purge = createProcessImportsHandler(
      testDb.config({ ...env, IMPORT_UPLOAD_EXPIRY_MARGIN_S: '3600' }),
    );
    await purge({ task: 'purge' }, fakeContext(30_000));
    const expired = await jobRow(testDb, overdue.batch_id);
    expect([expired.status, expired.completed_at instanceof Date, expired.error_message]).toEqual([
      'expired',
      true,
      'The file was never uploaded before the upload URL expired',
    ]);
    expect((await jobRow(testDb, recent.batch_id)).status).toBe('awaiting_upload');
  });
});

/**
 * A half-hourly file with what real exports hold: a BOM, CRLF line ends, quoted fields (one with a
 * comma), a blank line, and rows that fail. 1,920 good readings over 4 meters and 10 days.
 */
function mixedHhFile(): string {
  const lines = intervalCsv(4, 10).csv.trimEnd().split('\n');
  lines.splice(50, 0, '"E000000001","2024-02-01 00:00:00","7.25",kWh,A');
  lines.splice(300, 0, '');
  lines.splice(700, 0, ',2024-01-01 00:00:00,1,kWh,A');
  lines.splice(900, 0, 'E000000002,2024-02-01 00:30:00,"1,5",kWh,A');
  return `\ufeff${lines.join('\r\n')}\r\n`;
}

const MIXED = mixedHhFile();

/** Every reading with its meter's MPAN, minus the columns that name the job or the row's id. */
async function readingsOf(db: TestDatabase): Promise<string[]> {
  const [rows] = await db.admin.query<RowDataPacket[]>(
    `SELECT m.mpan, r.* FROM \`${db.name}\`.meter_readings r JOIN \`${db.name}\`.meters m ON m.id = r.meter_id`,
  );
  return rows
    .map(({ meter_id: _meter, import_batch_id: _batch, ...reading }) => JSON.stringify(reading))
    .sort();
}

async function summaryOf(db: TestDatabase, batchId: string): Promise<Record<string, unknown>> {
  const row = await jobRow(db, batchId);
  const { batch_id: _batch, ...summary } = JSON.parse(String(row.summary)) as Record<string, unknown>;
  return { status: row.status, error_code: row.error_code, ...summary };
}

/** Asks for an upload, POSTs the file to s3rver, and hands its event to the arrival handler. */
async function uploadThroughS3(file: Buffer | string, filename: string, extra: Record<string, string> = {}) {
  const ticket = await ticketFor({ type: 'hh', filename });
  expect((await postForm(ticket, file, extra)).status).toBe(204);
  const [notification = {}] = await waitForNotifications(1);
  s3.notifications.length = 0;
  const result = await arrived(testDb.config(env))(asSqsEvent(notification, 'm1') as never, fakeContext());
  expect(result).toEqual({ batchItemFailures: [] });
  return ticket.batch_id;
}

/** The processor on the test database, with an S3 client per job that must be destroyed after it. */
async function processS3Jobs(options: Partial<ProcessorOptions> = {}) {
  const clients: Array<{ destroyed: number }> = [];
  const outcomes = await withConnection(testDb.config(env).db, (db) =>
    processImports(db, {
      leaseOwner: randomUUID(),
      remainingMs: () => 60_000,
      batchSize: 300,
      stopMarginMs: 1000,
      writeMode: 'auto',
      createS3Client: () => {
        const client = createS3Client(s3.storage, { credentials: { ...LOCAL_S3_CREDENTIALS } });
        const tracked = { destroyed: 0 };
        clients.push(tracked);
        const destroy = client.destroy.bind(client);
        client.destroy = () => {
          tracked.destroyed++;
          destroy();
        };
        return client;
      },
      ...options,
    }),
  );
  expect(clients.map((client) => client.destroyed)).toEqual(clients.map(() => 1));
  return outcomes;
}

describe('both paths, one job', () => {
  let bodyDb: TestDatabase;

  beforeAll(async () => {
    bodyDb = await createTestDatabase({ maxUserConnections: 5 });
    await migrate(bodyDb);
  });

  afterAll(async () => {
    await bodyDb.drop();
  });

  beforeEach(async () => {
    for (const db of [testDb, bodyDb]) {
      for (const table of ['import_jobs', 'meter_readings', 'meters', 'sites']) {
        await db.admin.query(`DELETE FROM \`${db.name}\`.${table}`);
      }
    }
  });

  proveSessionAccounting(() => bodyDb);

  /** The reference: the same file sent in the request body and imported from the database store. */
  async function importInBody(): Promise<{ batchId: string; jobs: unknown }> {
    const queued = await createApiHandler(bodyDb.config(env))(
      csvUpload(MIXED, { type: 'hh', filename: 'mixed.csv' }),
      fakeContext(),
    );
    expect(queued.statusCode, String(queued.body)).toBe(202);
    const batchId = String(bodyOf(queued).batch_id);
    const result = await createProcessImportsHandler(bodyDb.config(env))({}, fakeContext(60_000));
    return { batchId, jobs: result.task === 'import' ? result.jobs : null };
  }

  it('produces the same outcome, summary and readings whether the file came in the body or through S3', async () => {
    const inBody = await importInBody();
    const batchId = await uploadThroughS3(MIXED, 'mixed.csv');
    const viaS3 = await createProcessImportsHandler(testDb.config(env), {
      s3Credentials: { ...LOCAL_S3_CREDENTIALS },
    })({}, fakeContext(60_000));
    const withoutId = (jobs: unknown) =>
      (jobs as Array<Record<string, unknown>>).map(({ batchId: _id, ...job }) => job);
    expect(withoutId(viaS3.task === 'import' ? viaS3.jobs : null)).toEqual(withoutId(inBody.jobs));
    expect(withoutId(inBody.jobs)).toEqual([
      { outcome: 'completed', processedRows: 1923, importedRows: 1921, failedRows: 2 },
    ]);
    expect(await summaryOf(testDb, batchId)).toEqual(await summaryOf(bodyDb, inBody.batchId));
    const readings = await readingsOf(bodyDb);
    expect(readings).toHaveLength(1921);
    expect(await readingsOf(testDb)).toEqual(readings);
  });

  it.each([
    { object: 'a plain object', filename: 'resume.csv', file: Buffer.from(MIXED), seek: 'range' },
    { object: 'a .gz object', filename: 'resume.csv.gz', file: gzipSync(MIXED), seek: 'skip' },
  ])(
    'resumes $object after a release ($seek) to exactly the readings of the in-body import',
    async ({ filename, file, seek }) => {
      await importInBody();
      const batchId = await uploadThroughS3(file, filename);
      let calls = 0;
      // Plenty of time for the claim and one batch, then "almost out of time".
      const [first] = await processS3Jobs({ remainingMs: () => (calls++ < 3 ? 60_000 : 500) });
      expect(first?.outcome).toBe('released');
      const released = await jobRow(testDb, batchId);
      expect(Number(released.checkpoint_row)).toBeGreaterThan(0);
      expect(Number(released.checkpoint_byte_offset)).toBeGreaterThan(0);
      // The offset is just past a record: the bytes before it end with the record's line break.
      const before = Buffer.from(MIXED).subarray(0, Number(released.checkpoint_byte_offset)).toString();
      expect(before.endsWith('\r\n')).toBe(true);
      const [second] = await processS3Jobs();
      expect(second).toMatchObject({
        outcome: 'completed',
        processedRows: 1923,
        importedRows: 1921,
        failedRows: 2,
        resumed: { seek, byteOffset: Number(released.checkpoint_byte_offset) },
      });
      expect(await readingsOf(testDb)).toEqual(await readingsOf(bodyDb));
    },
  );

  it('finishes a job whose checkpoint is the end of the object (a run died after its last batch)', async () => {
    const { csv, readings } = intervalCsv(2, 1);
    const batchId = await uploadThroughS3(csv, 'whole.csv');
    const [first] = await processS3Jobs();
    expect(first?.outcome).toBe('completed');
    const done = await summaryOf(testDb, batchId);
    const before = await readingsOf(testDb);
    // The state a run leaves when it dies between its last commit and finishing: every row
    // checkpointed (with the quality tally and autumn-hour tracker the last batch saved), the lease expired.
    // This hand-made state carries no quality tally (a real checkpoint does), so quality is compared
    // apart: it can only count what this run read, which is nothing.
    const tally = {
      processed: readings,
      imported: readings,
      failed: 0,
      errors: [],
      unitCounts: { kWh: readings },
      readingsWritten: readings,
      metersCreated: 2,
      sitesCreated: 0,
      metersToCreate: [],
      nextLine: readings + 2,
    };
    await testDb.admin.query(
      `UPDATE import_jobs SET status = 'processing', lease_owner = 'dead', lease_expires_at = NOW(3) - INTERVAL 1 SECOND,
              completed_at = NULL, summary = NULL, checkpoint_row = ?, checkpoint_byte_offset = ?, checkpoint_state = ?
        WHERE batch_id = ?`,
      [readings, Buffer.byteLength(csv), JSON.stringify(tally), batchId],
    );
    const [second] = await processS3Jobs();
    expect(second).toMatchObject({
      outcome: 'completed',
      processedRows: readings,
      resumed: { seek: 'range', byteOffset: Buffer.byteLength(csv) },
    });
    const { quality, ...rest } = (await summaryOf(testDb, batchId)) as Record<string, unknown>;
    const { quality: _doneQuality, ...doneRest } = done as Record<string, unknown>;
    expect(rest).toEqual(doneRest);
    expect(quality).toMatchObject({ meter_days: 0, missing_periods: 0 });
    expect(await readingsOf(testDb)).toEqual(before);
  });

  it('fails a job whose upload was deleted or replaced with UPLOAD_UNAVAILABLE, without retries', async () => {
    const deleted = await uploadThroughS3(MIXED, 'deleted.csv');
    await s3.client.send(
      new DeleteObjectCommand({ Bucket: s3.bucket, Key: `imports/${deleted}/deleted.csv` }),
    );
    const replaced = await uploadThroughS3(MIXED, 'replaced.csv');
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: `imports/${replaced}/replaced.csv`, Body: 'MPAN\n' }),
    );
    const outcomes = await processS3Jobs();
    expect(outcomes.map((outcome) => [outcome.outcome, outcome.errorCode])).toEqual([
      ['failed', 'UPLOAD_UNAVAILABLE'],
      ['failed', 'UPLOAD_UNAVAILABLE'],
    ]);
    for (const [batchId, message] of [
      [deleted, 'The uploaded file is no longer stored; upload it again'],
      [replaced, 'The uploaded file was replaced after the job was queued; upload it as a new job'],
    ] as const) {
      const row = await jobRow(testDb, batchId);
      expect([row.status, row.error_code, row.error_message, row.retry_count]).toEqual([
        'failed',
        'UPLOAD_UNAVAILABLE',
        message,
        0,
      ]);
    }
  });

  it('fails a .gz upload that is not gzip as a format error, without retries', async () => {
    const batchId = await uploadThroughS3(MIXED, 'not-really.csv.gz');
    const [outcome] = await processS3Jobs();
    expect([outcome?.outcome, outcome?.errorCode]).toEqual(['failed', 'FORMAT_ERROR']);
    const row = await jobRow(testDb, batchId);
    expect([row.status, row.error_message, row.retry_count]).toEqual([
      'failed',
      'The uploaded file is not valid gzip data',
      0,
    ]);
  });
});
