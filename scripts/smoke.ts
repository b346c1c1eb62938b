// `npm run smoke`: the README's five-minute tour as a script, against the stack `npm start` runs. Uploads every
// example file (one of them straight to the local S3 bucket through POST /api/import/uploads), runs the processor and the monitor through serverless-offline's Lambda endpoint,
// and checks jobs, readings and sites in the database. Any difference fails loudly (exit 1).

import { readFile } from 'node:fs/promises';
import type { RowDataPacket } from 'mysql2/promise';
import { withConnection } from '../lib/db.js';
import { localAdminConfig, localPorts, readCredentials, resolveLocalDatabase } from './local-db.js';
import { invokeLocalFunction, type LocalFunction } from './local-lambda.js';
import { uploadDirectly } from './smoke-direct-upload.js';

const { env } = await resolveLocalDatabase(process.env, { startPrivate: false });
const apiBase = env.SMOKE_API_URL ?? `http://localhost:${localPorts(env).http}`;
const adminConfig = localAdminConfig(env);

type Case = {
  file: string;
  type: 'hh' | 'daily' | 'sites';
  dryRun?: boolean;
  rows: number;
  format: string;
  /** Readings stored under the job's batch id (0 for sites and dry runs). */
  readings: number;
  /** Uploaded straight to the (local) S3 bucket through POST /api/import/uploads, not in the body. */
  direct?: boolean;
};

const CASES: readonly Case[] = [
  { file: 'examples/hh-interval.csv', type: 'hh', rows: 96, format: 'hh-interval', readings: 96 },
  { file: 'examples/hh-matrix.csv', type: 'hh', rows: 6, format: 'hh-matrix', readings: 288, direct: true },
  { file: 'examples/daily.csv', type: 'daily', rows: 21, format: 'daily', readings: 21 },
  { file: 'examples/sites.csv', type: 'sites', rows: 3, format: 'sites', readings: 0 },
  {
    file: 'examples/hh-interval.csv',
    type: 'hh',
    dryRun: true,
    rows: 96,
    format: 'hh-interval',
    readings: 0,
  },
];
const SITE_NAMES = ['Head Office', 'Leeds Warehouse', 'Cardiff Store'];

const failures: string[] = [];
function check(condition: boolean, message: string): void {
  if (!condition) failures.push(message);
}

async function api(
  method: string,
  path: string,
  init: { body?: Buffer; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${apiBase}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    failures.push(`${method} ${path}: answered ${response.status} with a non-JSON body`);
  }
  return { status: response.status, headers: response.headers, body };
}

function invoke(functionKey: LocalFunction, event: unknown): Promise<Record<string, unknown>> {
  return invokeLocalFunction(env, functionKey, event);
}

let token = '';
try {
  token = (await readCredentials(env)).apiToken;
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}

const health = await api('GET', '/api/health');
check(
  health.status === 200 || health.status === 207,
  `GET /api/health answered ${health.status}, expected 200 or 207`,
);

const queued: Array<{ testCase: Case; batchId: string }> = [];
for (const testCase of CASES) {
  const query = `type=${testCase.type}${testCase.dryRun ? '&dry_run=1' : ''}&filename=${encodeURIComponent(testCase.file.slice(9))}`;
  if (testCase.direct) {
    try {
      queued.push({ testCase, batchId: await uploadDirectly(api, await readFile(testCase.file), query) });
    } catch (error) {
      check(
        false,
        `direct upload of ${testCase.file}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    continue;
  }
  const upload = await api('POST', `/api/import/jobs?${query}`, {
    body: await readFile(testCase.file),
    headers: { 'content-type': 'text/csv' },
  });
  const batchId = String(upload.body.batch_id);
  check(upload.status === 202, `upload ${testCase.file}: ${upload.status} ${JSON.stringify(upload.body)}`);
  check(
    upload.headers.get('location') === `/api/import/jobs/${batchId}`,
    `upload ${testCase.file}: Location header`,
  );
  check(
    upload.body.total_rows === testCase.rows,
    `upload ${testCase.file}: total_rows ${String(upload.body.total_rows)}`,
  );
  queued.push({ testCase, batchId });
}

// The schedule would get there within a minute; invoking the processor directly keeps this quick.
for (let run = 0; run < 5; run++) {
  const result = await invoke('processImports', {});
  if (Array.isArray(result.jobs) && result.jobs.length === 0) break;
}

await withConnection(adminConfig.db, async (db) => {
  for (const { testCase, batchId } of queued) {
    const label = `${testCase.file}${testCase.dryRun ? ' (dry run)' : ''}${testCase.direct ? ' (through S3)' : ''}`;
    const { status, body: job } = await api('GET', `/api/import/jobs/${batchId}`);
    const summary = (job.summary ?? {}) as { meta?: { format?: string } };
    check(status === 200, `GET job of ${label}: ${status}`);
    check(
      job.status === 'completed',
      `${label}: status ${String(job.status)} (${String(job.error_message)})`,
    );
    check(job.processed_rows === testCase.rows && job.imported_rows === testCase.rows, `${label}: counters`);
    check(job.failed_rows === 0 && job.progress_percent === 100, `${label}: failed rows or progress`);
    check(summary.meta?.format === testCase.format, `${label}: format ${String(summary.meta?.format)}`);
    const [rows] = await db.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM meter_readings WHERE import_batch_id = ?',
      [batchId],
    );
    check(
      Number(rows[0]?.n) === testCase.readings,
      `${label}: ${String(rows[0]?.n)} readings, expected ${testCase.readings}`,
    );
  }
  const [sites] = await db.query<RowDataPacket[]>(
    'SELECT name, COUNT(*) AS n FROM sites WHERE name IN (?) GROUP BY name',
    [SITE_NAMES],
  );
  check(
    sites.length === SITE_NAMES.length && sites.every((row) => Number(row.n) === 1),
    'sites: each example site exactly once',
  );
});

const monitor = await invoke('monitor', {});
check(
  ['healthy', 'caution', 'warning'].includes(String(monitor.level)),
  `monitor level ${String(monitor.level)}`,
);

if (failures.length > 0) {
  console.error(`Smoke test FAILED (${failures.length}):\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `Smoke test passed: health ${health.status}; ${queued.length} uploads completed with the expected readings; monitor level ${String(monitor.level)}.`,
);
