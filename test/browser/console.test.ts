// The console in a real browser (Debian's Chromium through playwright-core) against the real api
// handler on a test database, served over HTTP by test/helpers/http-adapter.ts, with a real local S3
// (s3rver) whose object-created events reach the real arrival handler, as the SQS queue delivers them.
// The processor runs when a test needs a job to finish. Screenshots go to .local/artifacts/console/.

import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { RowDataPacket } from 'mysql2/promise';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../functions/api.js';
import { createProcessImportsHandler } from '../../functions/process-imports.js';
import { createS3UploadArrivedHandler } from '../../functions/s3-upload-arrived.js';
import { hashToken } from '../../lib/auth.js';
import { contentSecurityPolicy } from '../../lib/console/console-headers.js';
import { ConnectionLimitError } from '../../lib/errors.js';
import { errorResponse } from '../../lib/http.js';
import { layoutNamesFor } from '../../lib/imports/layouts/registry.js';
import { asSqsEvent, LOCAL_S3_CREDENTIALS } from '../../scripts/local-s3.js';
import { migrate, seedJob, TOKEN } from '../helpers/api.js';
import { type Browser, launchChromium } from '../helpers/browser.js';
import { showReadings, signIn as signInAs } from '../helpers/console-page.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { type RunningServer, serveHandler } from '../helpers/http-adapter.js';
import { fakeContext } from '../helpers/lambda.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';
import { seedHalfHourReadings } from '../helpers/readings-seed.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(ROOT, '.local/artifacts/console');
const DAILY_EXAMPLE = join(ROOT, 'examples/daily.csv');
const OCTOPUS_EXPORT = join(ROOT, 'test/fixtures/layouts/hh-octopus.csv');
const BROWSER_TIMEOUT_MS = 60_000;
/** Above the console's 4 MiB in-body threshold: a year of daily readings for LARGE_FILE_METERS meters. */
const LARGE_FILE = join(tmpdir(), `console-large-${process.pid}.csv`);
const LARGE_FILE_METERS = 400;
const LARGE_FILE_ROWS = LARGE_FILE_METERS * 365;

function largeDailyCsv(): string {
  const lines = ['MPAN,Date,Reading,Unit,ReadingType'];
  const start = Date.UTC(2023, 0, 1);
  for (let meter = 0; meter < LARGE_FILE_METERS; meter++) {
    for (let day = 0; day < 365; day++) {
      const [year, month, date] = new Date(start + day * 86_400_000).toISOString().slice(0, 10).split('-');
      lines.push(`L${String(meter).padStart(9, '0')},${date}/${month}/${year},${(day % 97) + 0.5},kWh,A`);
    }
  }
  return `${lines.join('\n')}\n`;
}

let testDb: TestDatabase;
let server: RunningServer;
let browser: Browser;
let page: Page;
let s3: TestS3;
/** Environment of the functions: the test database, the token, and the local S3 bucket. */
let env: Record<string, string>;
/** False: the API runs as a stage without a bucket (POST /api/import/uploads answers 501). */
let directUploadsEnabled = true;
/** True: the page's CSP names no storage origin, as if the API's storage settings were wrong. */
let cspWithoutStorage = false;
/** Arrival events the handler has taken so far (the local S3 sends them once the object is stored). */
let arrivals = 0;
/** Messages the page logged: CSP refusals and script errors end up here. */
let consoleProblems: string[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 10 });
  await migrate(testDb);
  s3 = await startTestS3({}, async (notification) => {
    const arrived = createS3UploadArrivedHandler(testDb.config(env));
    const result = await arrived(asSqsEvent(notification, crypto.randomUUID()) as never, fakeContext());
    expect(result).toEqual({ batchItemFailures: [] });
    arrivals++;
  });
  env = {
    API_TOKEN_HASHES: hashToken(TOKEN),
    IMPORT_BUCKET: s3.bucket,
    IMPORT_S3_ENDPOINT: s3.endpoint,
    AWS_REGION: 'us-east-1',
  };
  const credentials = { s3Credentials: { ...LOCAL_S3_CREDENTIALS } };
  const withUploads = createApiHandler(testDb.config(env), credentials);
  const withoutUploads = createApiHandler(testDb.config({ ...env, IMPORT_BUCKET: '' }), credentials);
  server = await serveHandler(async (event) => {
    const api = directUploadsEnabled ? withUploads : withoutUploads;
    const response = await api(event, fakeContext(30_000, 'api'));
    if (!cspWithoutStorage || response.headers?.['content-security-policy'] === undefined) return response;
    return {
      ...response,
      headers: { ...response.headers, 'content-security-policy': contentSecurityPolicy([]) },
    };
  });
  await writeFile(LARGE_FILE, largeDailyCsv());
  browser = await launchChromium();
  await mkdir(ARTIFACTS, { recursive: true });
}, BROWSER_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await s3?.stop();
  await testDb?.drop();
  await rm(LARGE_FILE, { force: true });
});

// Registered first, so it runs after the page is closed below (after-hooks run in reverse order).
proveSessionAccounting(() => testDb);

beforeEach(async () => {
  directUploadsEnabled = true;
  cspWithoutStorage = false;
  consoleProblems = [];
  page = await browser.context.newPage();
  page.on('console', (message) => {
    // A refused API call (401, 404, 409) is logged by the browser itself; the page handles those.
    if (message.text().startsWith('Failed to load resource')) return;
    if (message.type() === 'error' || message.type() === 'warning') consoleProblems.push(message.text());
  });
  page.on('pageerror', (error) => consoleProblems.push(error.message));
});

afterEach(async () => {
  // Closing the page stops its polling; its last request may still be running in the handler, so
  // wait for that too before the session check.
  await page.close();
  await server.idle();
});

async function screenshot(name: string, target: Page = page): Promise<void> {
  await target.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function signIn(target: Page = page): Promise<void> {
  await signInAs(target, server.origin, TOKEN);
}

/** One scheduled run of the processor, as the local stack's schedule would invoke it. */
async function runProcessor(): Promise<void> {
  const process = createProcessImportsHandler(testDb.config({ ...env, IMPORT_STOP_MARGIN_MS: '1000' }), {
    s3Credentials: { ...LOCAL_S3_CREDENTIALS },
  });
  const result = await process({}, fakeContext(60_000, 'process-imports'));
  expect(result).toMatchObject({ task: 'import', jobs: [{ outcome: 'completed' }] });
}

function jobDetail(target: Page = page) {
  return target.locator('#job-section');
}

describe('the console page', () => {
  it('is served at / and /console with a strict CSP, and its assets by hashed name, immutable', async () => {
    const pageResponse = await fetch(`${server.origin}/console`);
    expect(pageResponse.status).toBe(200);
    expect(pageResponse.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(pageResponse.headers.get('content-security-policy')).toContain("script-src 'self';");
    expect(pageResponse.headers.get('x-content-type-options')).toBe('nosniff');
    expect(pageResponse.headers.get('referrer-policy')).toBe('no-referrer');
    expect(pageResponse.headers.get('cache-control')).toBe('no-cache');
    const html = await pageResponse.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=/);
    const scriptPath = /src="(\/console\/app\.[0-9a-f]{12}\.js)"/.exec(html)?.[1];
    expect(scriptPath).toBeDefined();
    const asset = await fetch(`${server.origin}${scriptPath}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${server.origin}/`)).status).toBe(200);
    expect((await fetch(`${server.origin}/console/app.0000.js`)).status).toBe(404);
  });

  it('refuses a wrong token, signs in with the right one, and forgets it on sign out', async () => {
    await page.goto(`${server.origin}/`);
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.locator('#sign-in-error').textContent())
      .toBe('That token was not accepted.');
    await screenshot('01-sign-in');

    await signIn();
    expect(await page.evaluate('sessionStorage.length')).toBe(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(consoleProblems).toEqual([]);
  });

  it(
    'uploads examples/daily.csv, follows it to completed, shows its summary and charts its readings',
    async () => {
      await signIn();
      await page.getByLabel('CSV file (plain or .gz)').setInputFiles(DAILY_EXAMPLE);
      // The layout list follows the type: the half-hourly layouts, then the one daily layout.
      await page.getByLabel('Type', { exact: true }).selectOption('hh');
      expect(
        await page
          .locator('#format option')
          .evaluateAll((options) => options.map((o) => o.getAttribute('value'))),
      ).toEqual(['', ...layoutNamesFor('hh')]);
      await page.getByLabel('Type', { exact: true }).selectOption('daily');
      await page.getByLabel('Layout').selectOption('daily');
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await expect.poll(() => page.locator('#upload-status').textContent()).toContain('the import is queued');
      await expect.poll(() => jobDetail().locator('.badge').first().textContent()).toBe('queued');
      await expect.poll(() => page.locator('#upload-bytes').textContent()).toMatch(/^(\S+ \S+) of \1$/);

      await runProcessor();

      await expect
        .poll(() => jobDetail().locator('.badge').first().textContent(), { timeout: 20_000 })
        .toBe('completed');
      const facts = await jobDetail().locator('dl.facts').first().innerText();
      expect(facts).toContain('Imported\n21');
      expect(facts).toContain('21 of 21 processed');
      expect(facts).toContain('Failed rows\n0');
      await expect.poll(() => page.locator('#job-progress').getAttribute('value')).toBe('100');
      // The list shows it too, completed.
      await page.getByRole('button', { name: 'Refresh' }).click();
      await expect
        .poll(() => page.locator('#jobs-body tr', { hasText: 'daily.csv' }).first().innerText())
        .toContain('completed');

      // The imported readings, charted: seven days of the file, then the days it did not cover.
      await showReadings(page, {
        meter: 'E06BG12862',
        from: '2024-11-01',
        to: '2024-11-10',
        interval: 'daily',
      });
      await expect
        .poll(() => page.locator('#readings-status').textContent())
        .toBe('7 of 10 days have a reading; 3 missing in 1 gap; 1 estimated.');
      await screenshot('02-upload-completed');
      expect(consoleProblems).toEqual([]);
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    'sends the chosen layout and meter with the upload: a single-meter export without a meter column',
    async () => {
      await signIn();
      await page.getByLabel('CSV file (plain or .gz)').setInputFiles(OCTOPUS_EXPORT);
      await page.getByLabel('Type', { exact: true }).selectOption('hh');
      await page.getByLabel('Layout').selectOption('hh-octopus');
      await page.getByLabel('Meter (optional)').fill('2200012345678');
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await expect.poll(() => page.locator('#upload-status').textContent()).toContain('the import is queued');

      await runProcessor();
      await expect
        .poll(() => jobDetail().locator('.badge').first().textContent(), { timeout: 20_000 })
        .toBe('completed');
      const facts = await jobDetail().locator('dl.facts').first().innerText();
      expect(facts).toContain('Layout\nhh-octopus');
      expect(facts).toContain('Failed rows\n0');
      const [stored] = await testDb.admin.query<RowDataPacket[]>(
        `SELECT COUNT(*) AS n FROM meter_readings r JOIN meters m ON m.id = r.meter_id
          WHERE m.mpan = '2200012345678' AND r.settlement_date = '2025-03-30'`,
      );
      // The spring clock change: a settlement day of 46 half-hours, all of them in the export.
      expect(Number(stored[0]?.n)).toBe(46);

      await showReadings(page, {
        meter: '2200012345678',
        from: '2025-03-30',
        to: '2025-03-30',
        interval: 'hh',
      });
      await expect
        .poll(() => page.locator('#readings-status').textContent())
        .toBe('46 of 46 half-hours have a reading.');
      expect(consoleProblems).toEqual([]);
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    'shows the row errors and data-quality figures of a finished job',
    async () => {
      const quality = {
        meter_days: 3,
        complete_days: 2,
        missing_periods: 5,
        duplicates_in_file: 1,
        estimated: 4,
        partial: true,
      };
      const batchId = await seedJob(testDb, {
        status: 'completed',
        filename: 'with-errors.csv',
        total_rows: 3,
        processed_rows: 3,
        imported_rows: 1,
        failed_rows: 2,
        summary: JSON.stringify({
          records_processed: 3,
          records_imported: 1,
          records_failed: 2,
          errors: ['Row 3: date 31/02/2024 is not a calendar date', 'Row 4: reading "abc" is not a number'],
          successful: false,
          dry_run: false,
          meta: { format: 'daily-simple', column_mapping: {}, unit_counts: {} },
          quality,
        }),
      });
      await signIn();
      await page.locator('#jobs-body tr', { hasText: 'with-errors.csv' }).getByRole('button').click();
      await expect.poll(() => page.locator('#job-title').textContent()).toBe('Import: with-errors.csv');
      const detail = await jobDetail().innerText();
      expect(detail).toContain(batchId);
      expect(detail).toContain('Layout\ndaily-simple');
      expect(detail).toContain('Row errors (first 2 of 2)');
      expect(detail).toContain('Row 3: date 31/02/2024 is not a calendar date');
      expect(detail).toContain('Missing half-hours\n5');
      expect(detail).toContain('Duplicates in file\n1');
      expect(detail).toContain('Estimated readings\n4');
      expect(detail).toContain('These figures cover only the rows of the last run (the job was resumed).');
      // The detail heading takes focus, so a keyboard user lands on what they opened.
      expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('job-title');
      await screenshot('03-job-summary');
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    'cancels a queued job, and shows the 409 when the job moved on before the click',
    async () => {
      await seedJob(testDb, { filename: 'to-cancel.csv', status: 'queued' });
      const movedOn = await seedJob(testDb, { filename: 'moved-on.csv', status: 'queued' });
      await signIn();

      await page.locator('#jobs-body tr', { hasText: 'to-cancel.csv' }).getByRole('button').click();
      await expect.poll(() => jobDetail().locator('.badge').first().textContent()).toBe('queued');
      await page.getByRole('button', { name: 'Cancel import' }).click();
      await expect.poll(() => page.locator('#job-message').textContent()).toBe('Import cancelled.');
      await expect.poll(() => jobDetail().locator('.badge').first().textContent()).toBe('cancelled');
      expect(await page.getByRole('button', { name: 'Cancel import' }).isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Retry import' }).isEnabled()).toBe(true);
      await screenshot('04-cancelled');
      // Retry puts the cancelled job back in the queue.
      await page.getByRole('button', { name: 'Retry import' }).click();
      await expect.poll(() => page.locator('#job-message').textContent()).toBe('Import queued again.');
      await expect.poll(() => jobDetail().locator('.badge').first().textContent()).toBe('queued');
      await page.getByRole('button', { name: 'Cancel import' }).click();
      await expect.poll(() => jobDetail().locator('.badge').first().textContent()).toBe('cancelled');

      await page.locator('#jobs-body tr', { hasText: 'moved-on.csv' }).getByRole('button').click();
      await expect.poll(() => jobDetail().locator('.badge').first().textContent()).toBe('queued');
      await testDb.admin.query(
        "UPDATE import_jobs SET status = 'completed', completed_at = UTC_TIMESTAMP(3) WHERE batch_id = ?",
        [movedOn],
      );
      await page.getByRole('button', { name: 'Cancel import' }).click();
      await expect
        .poll(() => page.locator('#job-message').textContent())
        .toBe('Cannot cancel a job that is completed');
      await expect.poll(() => jobDetail().locator('.badge').first().textContent()).toBe('completed');
      expect(consoleProblems).toEqual([]);
    },
    BROWSER_TIMEOUT_MS,
  );

  it('shows hostile file names and row errors as text, never as markup', async () => {
    const hostile = '<img src=x onerror="document.title=1">.csv';
    await seedJob(testDb, {
      filename: hostile,
      status: 'failed',
      summary: JSON.stringify({
        records_processed: 1,
        records_imported: 0,
        records_failed: 1,
        errors: ['Row 2: <script>document.title=2</script>'],
        meta: {},
      }),
    });
    await signIn();
    const row = page.locator('#jobs-body tr', { hasText: '<img src=x' });
    await row.getByRole('button').click();
    await expect.poll(() => page.locator('#job-title').textContent()).toBe(`Import: ${hostile}`);
    expect(await page.locator('.row-errors li').allTextContents()).toEqual([
      'Row 2: <script>document.title=2</script>',
    ]);
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await page.title()).toBe('Eclectyc imports');
  });

  it(
    'filters the list by status and pages through it with the cursor',
    async () => {
      for (let index = 0; index < 22; index++) {
        await seedJob(testDb, { filename: `failed-${String(index).padStart(2, '0')}.csv`, status: 'failed' });
      }
      // Other tests may have left failed jobs too: page 2 holds whatever is beyond the first 20.
      const [counted] = await testDb.admin.query<RowDataPacket[]>(
        "SELECT COUNT(*) AS n FROM import_jobs WHERE status = 'failed'",
      );
      const failed = Number(counted[0]?.n);
      expect(failed).toBeGreaterThanOrEqual(22);
      expect(failed).toBeLessThanOrEqual(40);
      await signIn();
      await page.getByLabel('Status', { exact: true }).selectOption('failed');
      await expect.poll(() => page.locator('#jobs-status').textContent()).toBe('Page 1: 20 imports.');
      const firstPage = await page.locator('#jobs-body').innerText();
      expect(firstPage).not.toContain('completed');
      expect(firstPage).toContain('failed-21.csv');
      await page.getByRole('button', { name: 'Older' }).click();
      await expect
        .poll(() => page.locator('#jobs-status').textContent())
        .toBe(`Page 2: ${failed - 20} import${failed - 20 === 1 ? '' : 's'}.`);
      expect(await page.locator('#jobs-body').innerText()).toContain('failed-00.csv');
      expect(await page.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
      await page.getByRole('button', { name: 'Newer' }).click();
      await expect.poll(() => page.locator('#jobs-status').textContent()).toBe('Page 1: 20 imports.');
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    "charts a meter's half-hours with its gaps and estimated readings marked",
    async () => {
      const missing = ['2024-11-05#10', '2024-11-05#11', '2024-11-05#12', '2024-11-06#40'];
      for (let period = 1; period <= 48; period++) missing.push(`2024-11-07#${period}`);
      const seeded = await seedHalfHourReadings(testDb, {
        meter: '1900098765432',
        from: '2024-11-04',
        days: 4,
        missing,
        estimated: ['2024-11-04#20', '2024-11-04#21'],
      });
      expect(seeded.readings).toBe(4 * 48 - missing.length);
      await signIn();
      await showReadings(page, { meter: '1900098765432', from: '2024-11-04', to: '2024-11-07' });
      await expect
        .poll(() => page.locator('#readings-status').textContent())
        .toBe('140 of 192 half-hours have a reading; 52 missing in 3 gaps; 2 estimated.');
      expect(await page.locator('svg.chart rect.gap').count()).toBe(3);
      expect(await page.locator('svg.chart path.bar.estimated').count()).toBe(1);
      expect(await page.locator('.gaps li').allInnerTexts()).toEqual([
        '5 Nov 2024, 04:30 to 5 Nov 2024, 06:00 (3 half-hours)',
        '6 Nov 2024, 19:30 to 6 Nov 2024, 20:00 (1 half-hour)',
        '7 Nov 2024, 00:00 to 8 Nov 2024, 00:00 (48 half-hours)',
      ]);
      await screenshot('05-readings-chart');

      await showReadings(page, { meter: '9999999999999' });
      await expect.poll(() => page.locator('#readings-status').textContent()).toBe('Meter not found');
      expect(await page.locator('svg.chart').count()).toBe(0);
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    'explains that a file too large for the request body needs the direct upload this API lacks',
    async () => {
      const countJobs = async () => (await testDb.admin.query('SELECT COUNT(*) AS n FROM import_jobs'))[0];
      const jobsBefore = await countJobs();
      directUploadsEnabled = false;
      await signIn();
      await expect
        .poll(() => page.locator('#upload-limits').textContent())
        .toContain('direct uploads to storage are not enabled');
      await page.getByLabel('CSV file (plain or .gz)').setInputFiles(LARGE_FILE);
      await expect.poll(() => page.locator('#file-chosen').textContent()).toContain('too large for this API');
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await expect
        .poll(() => page.locator('#upload-status').textContent())
        .toMatch(/^Upload failed: This file is 4\.\d MiB: .* offers no direct upload\./);
      expect(await countJobs()).toEqual(jobsBefore);
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    'says why an upload failed when the API answers 503, makes no job, and lets the same file go again',
    async () => {
      // The gateway's own 503 (a throttled or failing function) has no `error`; the API's names the cause.
      const gateway = { statusCode: 503, body: JSON.stringify({ message: 'Service Unavailable' }) };
      const api = errorResponse(new ConnectionLimitError(1226, 3, 5), 'console-503');
      const answers = [gateway, api];
      const countJobs = async () => (await testDb.admin.query('SELECT COUNT(*) AS n FROM import_jobs'))[0];
      const jobsBefore = await countJobs();
      await signIn();
      await page.route(/\/api\/import\/jobs\?/, async (route) => {
        const answer = route.request().method() === 'POST' ? answers.shift() : undefined;
        if (answer === undefined) return route.fallback();
        await route.fulfill({
          status: answer.statusCode,
          contentType: 'application/json',
          headers: { 'retry-after': '5' },
          body: String(answer.body),
        });
      });
      await page.getByLabel('CSV file (plain or .gz)').setInputFiles(DAILY_EXAMPLE);
      const upload = page.getByRole('button', { name: 'Upload', exact: true });
      await upload.click();
      await expect
        .poll(() => page.locator('#upload-status').textContent())
        .toBe('Upload failed: The API answered 503');
      await expect(upload.isEnabled()).resolves.toBe(true);
      await upload.click();
      await expect
        .poll(() => page.locator('#upload-status').textContent())
        .toBe('Upload failed: Service busy: database connection limit reached, retry later');
      expect(answers).toEqual([]);
      expect(await countJobs()).toEqual(jobsBefore);
      // The API answers again: the same choice goes through (and is imported, leaving no job queued
      // for the next test's processor run).
      await upload.click();
      await expect.poll(() => page.locator('#upload-status').textContent()).toContain('the import is queued');
      await runProcessor();
      await expect
        .poll(() => jobDetail().locator('.badge').first().textContent(), { timeout: 20_000 })
        .toBe('completed');
      expect(consoleProblems).toEqual([]);
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    'sends a large file straight to storage through the presigned form, with progress, and imports it',
    async () => {
      const arrivalsBefore = arrivals;
      await signIn();
      await expect
        .poll(() => page.locator('#upload-limits').textContent())
        .toContain('larger ones go straight to storage');
      await page.getByLabel('CSV file (plain or .gz)').setInputFiles(LARGE_FILE);
      await expect
        .poll(() => page.locator('#file-chosen').textContent())
        .toContain('direct upload to storage');
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await expect
        .poll(() => page.locator('#upload-status').textContent(), { timeout: 20_000 })
        .toMatch(
          /^Uploaded console-large-\d+\.csv to storage; the import starts when the storage reports it\.$/,
        );
      expect(await page.locator('#upload-bytes').textContent()).toMatch(/^(4\.\d MiB) of \1$/);
      await expect
        .poll(() => page.locator('#job-title').textContent())
        .toMatch(/^Import: console-large-\d+\.csv$/);
      // The local S3 reported the object and the arrival handler queued the job; the page follows it.
      await expect.poll(() => arrivals, { timeout: 20_000 }).toBe(arrivalsBefore + 1);
      const [jobs] = await testDb.admin.query<RowDataPacket[]>(
        "SELECT batch_id, status, s3_bucket, s3_key FROM import_jobs WHERE filename LIKE 'console-large-%'",
      );
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ status: 'queued', s3_bucket: s3.bucket });
      const stored = await s3.client.send(
        new GetObjectCommand({ Bucket: s3.bucket, Key: String(jobs[0]?.s3_key) }),
      );
      const file = await readFile(LARGE_FILE);
      const storedBytes = Buffer.from((await stored.Body?.transformToByteArray()) ?? []);
      expect(createHash('sha256').update(storedBytes).digest('hex')).toBe(
        createHash('sha256').update(file).digest('hex'),
      );
      expect(stored.ContentType).toBe('text/csv');
      await expect.poll(() => jobDetail().locator('.badge').first().textContent()).toBe('queued');

      await runProcessor();
      await expect
        .poll(() => jobDetail().locator('.badge').first().textContent(), { timeout: 20_000 })
        .toBe('completed');
      const facts = await jobDetail().locator('dl.facts').first().innerText();
      expect(facts).toContain(`Imported\n${LARGE_FILE_ROWS.toLocaleString('en-GB')}`);
      await screenshot('07-direct-upload');
      expect(consoleProblems).toEqual([]);
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    'cannot send a file to a storage origin the page CSP does not name',
    async () => {
      cspWithoutStorage = true;
      const arrivalsBefore = arrivals;
      await signIn();
      await page.getByLabel('CSV file (plain or .gz)').setInputFiles(LARGE_FILE);
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await expect
        .poll(() => page.locator('#upload-status').textContent())
        .toBe('Upload failed: The upload was interrupted: check the network and try again');
      expect(consoleProblems.some((text) => text.includes('Content Security Policy'))).toBe(true);
      // Nothing reached the storage: the job the API created still waits for its file.
      expect(arrivals).toBe(arrivalsBefore);
      const [waiting] = await testDb.admin.query<RowDataPacket[]>(
        "SELECT COUNT(*) AS n FROM import_jobs WHERE status = 'awaiting_upload'",
      );
      expect(Number(waiting[0]?.n)).toBeGreaterThanOrEqual(1);
    },
    BROWSER_TIMEOUT_MS,
  );

  it('shows the health report: overall status, database round trip and the import queue', async () => {
    const report = (await (await fetch(`${server.origin}/api/health`)).json()) as { status: string };
    await signIn();
    const health = page.locator('#health-detail');
    await expect.poll(() => health.innerText()).toContain('Round trip (ms)');
    const text = await health.innerText();
    expect(text).toMatch(/database:\s*up/i);
    expect(text).toMatch(/import queue:\s*(healthy|degraded|critical)/i);
    expect(text).toContain('Failure rate (%)');
    expect(await page.locator('#health-badge').innerText()).toBe(`Health: ${report.status}`);
  });

  it("checks health once when the page opens and then every 30 s, not on the job poller's 1 s back-off", async () => {
    // Each check costs the database a connection, and every open tab makes them.
    await page.clock.install();
    const checks: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/health') checks.push(request.url());
    });
    await signIn();
    await expect.poll(() => page.locator('#health-detail').innerText()).toContain('Round trip (ms)');
    expect(checks).toHaveLength(1);
    await page.clock.runFor(29_000);
    expect(checks).toHaveLength(1);
    await page.clock.runFor(2_000);
    await expect.poll(() => checks.length).toBe(2);
  });

  it(
    'works at phone width and by keyboard: no sideways scrolling, labelled controls, visible focus',
    async () => {
      await seedJob(testDb, { filename: 'a-rather-long-file-name-from-the-supplier-november-2024.csv' });
      await page.setViewportSize({ width: 375, height: 800 });
      await signIn();
      await expect.poll(() => page.locator('#jobs-body tr').count()).toBeGreaterThan(0);
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
      await screenshot('06-phone');
      await page.screenshot({ path: join(ARTIFACTS, '06-phone-first-screen.png') });

      // Every form control has a label the browser can name it by.
      const unlabelled = await page.evaluate(`Array.from(document.querySelectorAll('input, select'))
        .filter((el) => el.labels === null || el.labels.length === 0).map((el) => el.id)`);
      expect(unlabelled).toEqual([]);
      // The token survives a reload (same tab); after it, the first Tab reaches the skip link.
      await page.reload();
      await page.getByRole('heading', { name: 'Upload a file' }).waitFor();
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
      // Focus reached by keyboard is drawn with a visible outline.
      await page.getByRole('button', { name: 'Sign out' }).focus();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Tab');
      const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
      expect(outline).toBe('solid');
    },
    BROWSER_TIMEOUT_MS,
  );
});
