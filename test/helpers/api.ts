// Shared set-up for the HTTP API integration tests: the schema applied to a test database, a bearer
// token and its hash, the handler built for that database, and row counts for "nothing was stored".

import { randomBytes, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { createApiHandler } from '../../functions/api.js';
import { hashToken } from '../../lib/auth.js';
import type { HttpResponse } from '../../lib/http.js';
import type { TestDatabase } from './database.js';
import { httpEvent } from './http-events.js';
import { fakeContext } from './lambda.js';

export const TOKEN = randomBytes(32).toString('hex');
export const AUTH = { authorization: `Bearer ${TOKEN}` };

export { migrate } from './schema.js';

/** The api handler for the test database, accepting TOKEN unless the overrides say otherwise. */
export function apiHandler(testDb: TestDatabase, overrides: Record<string, string> = {}) {
  return createApiHandler(testDb.config({ API_TOKEN_HASHES: hashToken(TOKEN), ...overrides }));
}

export type Call = (event: APIGatewayProxyEventV2) => Promise<HttpResponse>;

export function caller(testDb: TestDatabase, overrides: Record<string, string> = {}): Call {
  const handler = apiHandler(testDb, overrides);
  return (event) => handler(event, fakeContext());
}

export function csvUpload(
  csv: string | Buffer,
  query: Record<string, string> = { type: 'daily' },
  headers: Record<string, string> = {},
): APIGatewayProxyEventV2 {
  const body = Buffer.isBuffer(csv) ? csv.toString('base64') : csv;
  return httpEvent('POST', '/api/import/jobs', {
    headers: { ...AUTH, 'content-type': 'text/csv', ...headers },
    query,
    body,
    isBase64Encoded: Buffer.isBuffer(csv),
  });
}

export function bodyOf(response: HttpResponse): Record<string, unknown> {
  const parsed: unknown = JSON.parse(String(response.body));
  if (typeof parsed !== 'object' || parsed === null) throw new Error('response body is not a JSON object');
  return Object.fromEntries(Object.entries(parsed));
}

export async function storedCounts(testDb: TestDatabase): Promise<{ jobs: number; chunks: number }> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>(
    `SELECT (SELECT COUNT(*) FROM import_jobs) AS jobs, (SELECT COUNT(*) FROM import_file_chunks) AS chunks`,
  );
  return { jobs: Number(rows[0]?.jobs), chunks: Number(rows[0]?.chunks) };
}

export async function jobRow(testDb: TestDatabase, batchId: string): Promise<RowDataPacket> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>('SELECT * FROM import_jobs WHERE batch_id = ?', [
    batchId,
  ]);
  const row = rows[0];
  if (row === undefined) throw new Error(`no job ${batchId}`);
  return row;
}

/** A raw SQL expression for seedJob, e.g. `utc('- INTERVAL 2 HOUR')`; the app's sessions run in UTC. */
export type SqlExpression = { readonly sql: string };

export function utc(offset = ''): SqlExpression {
  return { sql: `UTC_TIMESTAMP(3) ${offset}` };
}

/** Inserts a job row directly (with a one-chunk file unless told not to); returns its batch_id. */
export async function seedJob(
  testDb: TestDatabase,
  columns: Record<string, string | number | null | SqlExpression> = {},
  options: { withFile?: boolean } = {},
): Promise<string> {
  const batchId = typeof columns.batch_id === 'string' ? columns.batch_id : randomUUID();
  const row: Record<string, string | number | null | SqlExpression> = {
    filename: 'seed.csv',
    import_type: 'daily',
    status: 'queued',
    ...columns,
    batch_id: batchId,
  };
  const names = Object.keys(row);
  const values = Object.values(row);
  // Column names and expressions come from the tests themselves, never from a request.
  const placeholders = values.map((value) => (typeof value === 'object' && value !== null ? value.sql : '?'));
  const [result] = await testDb.admin.query<ResultSetHeader>(
    `INSERT INTO import_jobs (${names.join(', ')}) VALUES (${placeholders.join(', ')})`,
    values.filter((value) => typeof value !== 'object' || value === null),
  );
  if (options.withFile !== false) {
    await testDb.admin.query('INSERT INTO import_file_chunks (job_id, chunk_no, data) VALUES (?, 0, ?)', [
      result.insertId,
      Buffer.from('not really gzip'),
    ]);
  }
  return batchId;
}
