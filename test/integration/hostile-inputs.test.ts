// Sends every case of the hostile-input corpus (test/fixtures/hostile/cases.ts) through the real API
// handler, and every accepted upload through the real processor: a clear 4xx JSON error and nothing
// stored, or an import with exactly the expected row errors whose stored strings are byte for byte
// what was sent; never a 500, and never a session left behind.

import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessImportsHandler } from '../../functions/process-imports.js';
import { type Accepted, HOSTILE_CASES, type HostileCase } from '../fixtures/hostile/cases.js';
import { AUTH, bodyOf, type Call, caller, migrate, TOKEN } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { readingLines, tableCounts } from '../helpers/import-jobs.js';
import { fakeContext } from '../helpers/lambda.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

const FIXTURES = new URL('../fixtures/hostile/', import.meta.url);

let testDb: TestDatabase;
let call: Call;
let processImports: ReturnType<typeof createProcessImportsHandler>;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 3 });
  await migrate(testDb);
  call = caller(testDb);
  processImports = createProcessImportsHandler(testDb.config());
});

afterAll(async () => {
  await testDb?.drop();
});

// Every handler test proves the connection accounting: 0 app-user sessions before and after it.
proveSessionAccounting(() => testDb);

function eventFor(hostile: HostileCase): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = hostile.request.auth === false ? {} : { ...AUTH };
  for (const [name, value] of Object.entries(hostile.request.headers ?? {})) {
    headers[name] = value.replaceAll('$TOKEN', TOKEN);
  }
  const body = hostile.body;
  let encoded: { body?: string; isBase64Encoded?: boolean } = {};
  if (body !== undefined && 'text' in body) encoded = { body: body.text, isBase64Encoded: false };
  if (body !== undefined && 'file' in body) {
    encoded = { body: readFileSync(new URL(body.file, FIXTURES)).toString('base64'), isBase64Encoded: true };
  }
  if (body !== undefined && 'generate' in body) {
    encoded = { body: body.generate().toString('base64'), isBase64Encoded: true };
  }
  if (body !== undefined && 'rawBase64' in body) encoded = { body: body.rawBase64, isBase64Encoded: true };
  return httpEvent(hostile.request.method, hostile.request.path, {
    headers,
    ...(hostile.request.query === undefined ? {} : { query: { ...hostile.request.query } }),
    ...encoded,
  });
}

function hex(text: string | null): string | null {
  return text === null ? null : Buffer.from(text, 'utf8').toString('hex').toUpperCase();
}

async function clearImportTables(): Promise<void> {
  for (const table of ['import_jobs', 'meter_readings', 'meters', 'sites']) {
    await testDb.admin.query(`DELETE FROM ${table}`);
  }
}

/** Imports the accepted job with the real processor handler, then checks what it shows and stores. */
async function expectImported(hostile: HostileCase, expected: Accepted, batchId: string): Promise<void> {
  const run = await processImports(undefined, fakeContext(60_000));
  expect(run).toMatchObject({ task: 'import', jobs: [{ batchId }] });

  const shown = await call(httpEvent('GET', `/api/import/jobs/${batchId}`, { headers: AUTH }));
  const filename = expected.filename ?? hostile.request.query?.filename ?? 'upload.csv';
  expect(bodyOf(shown)).toMatchObject({
    filename,
    status: expected.job.status,
    imported_rows: expected.job.importedRows,
    summary: { errors: [...expected.job.rowErrors] },
  });
  const [jobs] = await testDb.admin.query<RowDataPacket[]>(
    'SELECT HEX(filename) AS filename FROM import_jobs WHERE batch_id = ?',
    [batchId],
  );
  expect(jobs[0]?.filename).toBe(hex(filename));

  if (expected.meters !== undefined) {
    const [meters] = await testDb.admin.query<RowDataPacket[]>('SELECT HEX(mpan) AS mpan FROM meters');
    expect(meters.map((row) => String(row.mpan)).sort()).toEqual(expected.meters.map(hex).sort());
  }
  if (expected.sites !== undefined) {
    const [sites] = await testDb.admin.query<RowDataPacket[]>(
      'SELECT HEX(name) AS name, HEX(address) AS address FROM sites',
    );
    const stored = sites.map((row) => JSON.stringify([row.name, row.address])).sort();
    expect(stored).toEqual(
      expected.sites.map((site) => JSON.stringify([hex(site.name), hex(site.address)])).sort(),
    );
  }
  if (expected.readings !== undefined) expect(await readingLines(testDb)).toEqual(expected.readings);
}

describe('the hostile-input corpus', () => {
  it('holds at least 40 cases, each named once', () => {
    const names = HOSTILE_CASES.map((hostile) => hostile.name);
    expect(names.length).toBeGreaterThanOrEqual(40);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(HOSTILE_CASES.map((hostile) => [hostile.name, hostile] as const))('%s', async (_, hostile) => {
    const expected = hostile.expect;
    if ('job' in expected) await clearImportTables();
    const before = await tableCounts(testDb);

    const response = await call(eventFor(hostile));

    expect(response.headers?.['content-type']).toBe('application/json; charset=utf-8');
    const body = bodyOf(response);
    if ('job' in expected) {
      expect(response.statusCode).toBe(202);
      await expectImported(hostile, expected, String(body.batch_id));
      return;
    }
    if (!('error' in expected)) {
      expect(response.statusCode).toBe(expected.status);
    } else {
      expect({ statusCode: response.statusCode, error: body.error }).toEqual({
        statusCode: expected.status,
        error: typeof expected.error === 'string' ? expected.error : expect.stringMatching(expected.error),
      });
      // The error and its details, nothing else: no stack, no SQL, no echo of the request.
      expect(Object.keys(body).filter((key) => key !== 'error' && key !== 'details')).toEqual([]);
    }
    expect(await tableCounts(testDb)).toEqual(before);
  });
});
