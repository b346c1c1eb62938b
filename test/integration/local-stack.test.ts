// The local stack as a newcomer gets it, isolated from everything else on the machine: `npm start` on
// free ports, with its state in a temp dir and a default database port where nothing listens, so it
// starts a private server of its own. Against that one stack: packaging leaves it running, the console
// works in a browser, a function that cannot load answers without a stack trace, every runnable shell
// example in README.md and docs/ runs as written, and the local commands (monitor, reset, db:stop)
// behave as documented.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, readCredentials, resolveLocalDatabase } from '../../scripts/local-db.js';
import { freePort } from '../../scripts/mariadb-server.js';
import { ensurePrivateServer, privateServerPort, stopPrivateServer } from '../../scripts/private-db.js';
import { launchChromium } from '../helpers/browser.js';
import { showReadings, signIn } from '../helpers/console-page.js';
import { withPackageLock } from '../helpers/package-lock.js';

const run = promisify(execFile);
const REPO = REPO_ROOT.replace(/\/$/, '');
const TSX = join(REPO, 'node_modules/.bin/tsx');

let stateDir: string;
let packageDir: string;
let env: Record<string, string>;
let ports: { defaultDb: number; http: number; lambda: number; s3: number };
let stack: ChildProcess | undefined;
let output = '';
let api: string;

/** Only what a shell gives a newcomer, plus the stack's settings: no DB_* from the test run. */
function newcomerEnv(extra: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'USER']) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  return { ...base, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', ...extra };
}

async function runScript(script: string, args: string[] = [], extraEnv: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(TSX, [join('scripts', script), ...args], {
      cwd: REPO,
      env: { ...env, ...extraEnv },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

async function get(path: string, token?: string) {
  const response = await fetch(`${api}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, text: await response.text() };
}

async function invokeProcessor(event: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(
    `http://localhost:${ports.lambda}/2015-03-31/functions/eclectyc-local-processImports/invocations`,
    { method: 'POST', body: JSON.stringify(event) },
  );
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

async function adminQuery<T extends RowDataPacket[]>(sql: string, values: unknown[] = []): Promise<T> {
  const { env: dbEnv } = await resolveLocalDatabase(env, { startPrivate: false });
  const connection = await createConnection({
    host: String(dbEnv.DB_HOST),
    port: Number(dbEnv.DB_PORT),
    user: 'root',
    password: '',
    database: 'eclectyc_dev',
  });
  try {
    const [rows] = await connection.query<T>(sql, values);
    return rows;
  } finally {
    await connection.end();
  }
}

function stopStack(): Promise<void> {
  const child = stack;
  if (child === undefined || child.exitCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(-(child.pid as number), 'SIGTERM');
    setTimeout(() => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, 10_000).unref();
  });
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'eclectyc-local-stack-'));
  packageDir = await mkdtemp(join(tmpdir(), 'eclectyc-local-package-'));
  ports = {
    defaultDb: await freePort(),
    http: await freePort(),
    lambda: await freePort(),
    s3: await freePort(),
  };
  api = `http://localhost:${ports.http}`;
  env = newcomerEnv({
    LOCAL_STATE_DIR: stateDir,
    LOCAL_DEFAULT_DB_PORT: String(ports.defaultDb),
    HTTP_PORT: String(ports.http),
    LAMBDA_PORT: String(ports.lambda),
    LOCAL_S3_PORT: String(ports.s3),
  });
  const child = spawn(TSX, ['scripts/start.ts'], { cwd: REPO, env, detached: true });
  stack = child;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const startedMs = Date.now();
  while (!output.includes('eclectyc is running')) {
    if (child.exitCode !== null || Date.now() - startedMs > 170_000) {
      throw new Error(`npm start did not come up:\n${output.slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  console.log(`local stack answered after ${Date.now() - startedMs} ms`);
}, 180_000);

afterAll(async () => {
  await stopStack();
  await stopPrivateServer(stateDir).catch(() => false);
  await rm(join(REPO, '.local', 'build', `offline-${ports.http}`), { recursive: true, force: true });
  await rm(stateDir, { recursive: true, force: true });
  await rm(packageDir, { recursive: true, force: true });
}, 60_000);

describe('npm start on a machine where nothing answers at the default port', () => {
  it('starts a private database server, says which, and answers', async () => {
    const port = await privateServerPort(stateDir);
    expect(output).toContain(
      `eclectyc_dev on 127.0.0.1:${port}, the private server (created and started; data in ${stateDir}/mariadb`,
    );
    expect((await get('/api/health')).status).toBe(200);
  });

  it('keeps answering 200, and its next processor run succeeds, after a package run', async () => {
    await withPackageLock(() =>
      run(join(REPO, 'node_modules/.bin/osls'), ['package', '--stage', 'ci', '--package', packageDir], {
        cwd: REPO,
        env: { ...env, AWS_SDK_LOAD_CONFIG: '0' },
        timeout: 150_000,
      }),
    );
    expect((await get('/api/health')).status).toBe(200);
    const { apiToken } = await readCredentials(env);
    const upload = await fetch(`${api}/api/import/jobs?type=daily`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'text/csv' },
      body: readFileSync(join(REPO, 'examples/daily.csv')),
    });
    expect(upload.status).toBe(202);
    const { batch_id: batchId } = (await upload.json()) as { batch_id: string };
    // The scheduled run is exactly this invocation; the schedule may have taken the job first.
    const result = await invokeProcessor({});
    expect(result.task).toBe('import');
    const job = JSON.parse((await get(`/api/import/jobs/${batchId}`, apiToken)).text) as { status: string };
    expect(job.status).toBe('completed');
  }, 180_000);

  it('serves the console: in Chromium, sign in, upload examples/daily.csv, see it complete, chart it, cancel a queued job', async () => {
    const { apiToken } = await readCredentials(env);
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      await signIn(page, api, apiToken);
      await page.getByLabel('CSV file (plain or .gz)').setInputFiles(join(REPO, 'examples/daily.csv'));
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await expect.poll(() => page.locator('#upload-status').textContent()).toContain('the import is queued');
      // The schedule may take the job first; this invocation is the same run either way.
      await invokeProcessor({});
      await expect
        .poll(() => page.locator('#job-section .badge').first().textContent(), { timeout: 30_000 })
        .toBe('completed');
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text puts each fact on its line
      expect(await page.locator('#job-section dl.facts').first().innerText()).toContain('Imported\n21');
      // Its readings, charted: the file's seven days, then the days it lacks.
      await showReadings(page, {
        meter: 'E06BG12862',
        from: '2024-11-01',
        to: '2024-11-10',
        interval: 'daily',
      });
      await expect
        .poll(() => page.locator('#readings-status').textContent())
        .toBe('7 of 10 days have a reading; 3 missing in 1 gap; 1 estimated.');
      await page.screenshot({ path: join(REPO, '.local/artifacts/console/local-stack.png'), fullPage: true });
      // Cancel a queued job. It waits to be retried in an hour, so the every-minute schedule cannot
      // claim it between the click and the cancel (a freshly uploaded one could be taken first).
      const waiting = randomUUID();
      await adminQuery(
        `INSERT INTO import_jobs (batch_id, filename, import_type, status, retry_at)
         VALUES (?, 'waiting-retry.csv', 'daily', 'queued', NOW(3) + INTERVAL 1 HOUR)`,
        [waiting],
      );
      await page.locator('#jobs-refresh').click();
      await page.locator('#jobs-body tr', { hasText: 'waiting-retry.csv' }).getByRole('button').click();
      await page.getByRole('button', { name: 'Cancel import' }).click();
      await expect.poll(() => page.locator('#job-message').textContent()).toBe('Import cancelled.');
      const [cancelled] = await adminQuery<RowDataPacket[]>(
        'SELECT status FROM import_jobs WHERE batch_id = ?',
        [waiting],
      );
      expect(cancelled?.status).toBe('cancelled');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);

  it('answers a function that cannot load with a bare 500: no stack trace, no server path', async () => {
    const build = join(REPO, '.local', 'build', `offline-${ports.http}`);
    const { apiToken } = await readCredentials(env);
    await rename(build, `${build}.away`);
    try {
      for (const [path, token] of [
        ['/api/health', undefined],
        ['/api/import/jobs', apiToken],
      ] as const) {
        const response = await get(path, token);
        expect(response).toEqual({ status: 500, text: '{"message":"Internal Server Error"}' });
      }
    } finally {
      await rename(`${build}.away`, build);
    }
    expect(output).toContain('[front door] answered 500 without the details');
    expect((await get('/api/health')).status).toBe(200);
  });
});

/** The ```sh runnable blocks of one markdown file, in order. */
function runnableBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh runnable\n([\s\S]*?)^```$/gm)].map((match) => String(match[1]));
}

describe('the documentation', () => {
  const documents = ['README.md', ...readdirSync(join(REPO, 'docs')).map((name) => `docs/${name}`)];
  const withExamples = documents.filter(
    (document) => runnableBlocks(readFileSync(join(REPO, document), 'utf8')).length > 0,
  );

  it('has runnable examples in the README (the tour) and in the docs', () => {
    const counts = Object.fromEntries(
      documents.map((document) => [
        document,
        runnableBlocks(readFileSync(join(REPO, document), 'utf8')).length,
      ]),
    );
    expect(counts['README.md']).toBeGreaterThanOrEqual(6);
    expect(counts['docs/api.md']).toBeGreaterThanOrEqual(6);
    expect(counts['docs/operations.md']).toBeGreaterThanOrEqual(2);
  });

  it.each(withExamples)(
    '%s: every runnable shell example runs as written against the local stack',
    async (document) => {
      const blocks = runnableBlocks(readFileSync(join(REPO, document), 'utf8'));
      // The only placeholders: the stack's port and state dir, which this test moved (a newcomer's are
      // 3000 and .local/).
      const script = blocks
        .join('\n')
        .replaceAll('http://localhost:3000', api)
        .replaceAll('./.local/credentials.json', join(stateDir, 'credentials.json'));
      let result: { stdout: string; stderr: string };
      try {
        result = await run('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', script], {
          cwd: REPO,
          env,
          timeout: 150_000,
        });
      } catch (error) {
        const failed = error as { stdout?: string; stderr?: string; code?: number };
        throw new Error(
          `${document}: a runnable example failed (exit ${String(failed.code)}):\n${(failed.stdout ?? '').slice(-2000)}\n${(failed.stderr ?? '').slice(-2000)}`,
        );
      }
      expect(result.stdout).not.toContain('stackTrace');
    },
    180_000,
  );
});

describe('the local commands', () => {
  it('npm run monitor names the whole set of settings when some are given and others missing', async () => {
    const result = await runScript('monitor.ts', [], { DB_USER: 'someone' });
    expect(result.code).toBe(1);
    for (const name of ['DB_NAME', 'MONITOR_DB_SECRET_ID', 'MONITOR_DB_USER', 'MONITOR_DB_PASSWORD']) {
      expect(result.stderr).toContain(name);
    }
  });

  it('npm run monitor with no settings reports on the local stack', async () => {
    const result = await runScript('monitor.ts', ['--json']);
    const { appUser } = await readCredentials(env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { users: Array<{ user: string; effectiveLimit: number }> };
    expect(report.users.map((user) => [user.user, user.effectiveLimit])).toEqual([[appUser, 20]]);
  });

  it('npm run reset deletes nothing without --yes, then empties jobs and readings and keeps the users', async () => {
    const count = async (table: string) =>
      Number((await adminQuery<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${table}`))[0]?.n);
    const { apiToken } = await readCredentials(env);
    const upload = await fetch(`${api}/api/import/jobs?type=sites`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'text/csv' },
      body: readFileSync(join(REPO, 'examples/sites.csv')),
    });
    expect(upload.status).toBe(202);
    await invokeProcessor({});
    const jobsBefore = await count('import_jobs');
    expect(jobsBefore).toBeGreaterThan(0);
    const refused = await runScript('reset.ts');
    expect(refused.code).toBe(2);
    expect(await count('import_jobs')).toBe(jobsBefore);

    const reset = await runScript('reset.ts', ['--yes']);
    expect(reset.code).toBe(0);
    expect([
      await count('import_jobs'),
      await count('import_file_chunks'),
      await count('meter_readings'),
    ]).toEqual([0, 0, 0]);
    expect(await count('sites')).toBeGreaterThan(0);
    expect((await get('/api/import/jobs', apiToken)).status).toBe(200);
  });

  it('a later start reuses the private server and its data, also after npm run db:stop', async () => {
    const port = await privateServerPort(stateDir);
    const again = await resolveLocalDatabase(env, { startPrivate: true });
    expect([again.privateServer?.state, again.privateServer?.port]).toEqual(['running', port]);

    await stopStack();
    const stopped = await runScript('db-stop.ts');
    expect(stopped.stdout).toContain(`Stopped the private database server on port ${port}`);
    const restarted = await ensurePrivateServer(stateDir);
    expect([restarted?.state, restarted?.port]).toEqual(['started', port]);
    const migrations = await adminQuery<RowDataPacket[]>('SELECT COUNT(*) AS n FROM schema_migrations');
    expect(Number(migrations[0]?.n)).toBeGreaterThan(0);
  }, 60_000);
});
