import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Run = { code: number; stdout: string; stderr: string };

/** Runs a command in the project offline: no AWS credentials, no telemetry; never rejects. */
function run(command: string, args: readonly string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_')) env[name] = value;
  }
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const budget = (...args: string[]) => run('node_modules/.bin/tsx', ['scripts/budget.ts', ...args]);

let outputDir: string;
let good: Run;
let overcommitted: Run;
let refusedPackage: Run;
let passedOn: Run;
let proxied: Run;
let proxiedSlowBorrow: Run;

// osls print takes a few seconds: the four runs go side by side, once for the whole file.
beforeAll(async () => {
  outputDir = await mkdtemp(join(tmpdir(), 'eclectyc-budget-'));
  [good, overcommitted, refusedPackage, passedOn, proxied, proxiedSlowBorrow] = await Promise.all([
    budget('--stage', 'prod'),
    budget('--stage', 'prod', '--param', 'apiReservedConcurrency=100', '--param=dbMaxConnections=50'),
    run('npm', [
      'run',
      'package',
      '--',
      '--stage',
      'prod',
      '--param',
      'apiReservedConcurrency=100',
      '--package',
      join(outputDir, 'refused'),
    ]),
    // The wrapper behind `npm run package|deploy` runs any osls command: print shows what it passed on.
    run('node_modules/.bin/tsx', [
      'scripts/sls.ts',
      'print',
      '--stage',
      'ci',
      '--param',
      'apiReservedConcurrency=20',
      '--format',
      'json',
    ]),
    // RDS Proxy mode: the API's 100 may exceed the pool; the pool must fit beside the others.
    budget(
      '--stage',
      'prod',
      '--param',
      'dbProxy=true',
      '--param',
      'apiReservedConcurrency=100',
      '--param',
      'dbMaxConnections=90',
      '--param',
      'dbMaxUserConnections=60',
    ),
    budget(
      '--stage',
      'prod',
      '--param',
      'dbProxy=true',
      '--param',
      'dbMaxConnections=90',
      '--param',
      'dbProxyBorrowTimeoutSeconds=10',
    ),
  ]);
}, 180_000);

afterAll(async () => {
  await rm(outputDir, { recursive: true, force: true });
});

describe('npm run budget', () => {
  it('passes the real serverless.yml for a stage with its defaults and prints the table and totals', () => {
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    const lines = good.stdout.split('\n').map((line) => line.replace(/\s+/g, ' ').trim());
    expect(lines).toContain('function trigger db user reserved concurrency max connections');
    expect(lines).toContain(
      'api HTTP API GET /api/health, ANY /api/{proxy+}, GET /, GET /console, GET /console/{asset} app 10 10',
    );
    expect(lines).toContain('processImports schedule rate(1 minute), cron(15 3 * * ? *) app 1 1');
    expect(lines).toContain('s3UploadArrived sqs app 2 2');
    expect(lines).toContain('monitor schedule rate(5 minutes) monitor 1 1');
    expect(lines).toContain(
      'app user 13 (api 10 + processImports 1 + s3UploadArrived 2) ≤ dbMaxUserConnections 30 − headroom 2 = 28 ok',
    );
    expect(lines).toContain('all users 14 (app 13 + monitor 1); dbMaxConnections not set: not checked');
  });

  it('fails an overcommitted stage (--param overrides) with messages naming the numbers', () => {
    expect(overcommitted.code).toBe(1);
    expect(overcommitted.stdout).toMatch(/api\s+HTTP API .*app\s+100\s+100/);
    expect(overcommitted.stderr).toContain(
      'Stage prod can open 103 app-user connections (api 100 + processImports 1 + s3UploadArrived 2) but dbMaxUserConnections 30 − headroom 2 leaves 28',
    );
    expect(overcommitted.stderr).toContain(
      'Stage prod can open 104 connections in all (api 100 + processImports 1 + s3UploadArrived 2 + monitor 1) but dbMaxConnections 50 − headroom 2 leaves 48',
    );
    expect(overcommitted.stderr).toContain('MAX_USER_CONNECTIONS');
  });
});

describe('npm run package and deploy (scripts/sls.ts)', () => {
  it('refuses an overcommitted stage before packaging anything', async () => {
    expect(refusedPackage.code).not.toBe(0);
    expect(refusedPackage.stderr).toContain(
      'Stage prod can open 103 app-user connections (api 100 + processImports 1 + s3UploadArrived 2) but dbMaxUserConnections 30 − headroom 2 leaves 28',
    );
    expect(refusedPackage.stderr).toContain('Refusing to run osls package');
    expect(refusedPackage.stdout).not.toContain('Packaging');
    expect(await readdir(outputDir)).not.toContain('refused');
  });

  it('runs osls with the same arguments when the budget holds', () => {
    expect(passedOn.code).toBe(0);
    const [table = '', printed = ''] = passedOn.stdout.split(/\n(?=\{)/);
    expect(table).toContain(
      'app user   23 (api 20 + processImports 1 + s3UploadArrived 2) ≤ dbMaxUserConnections 30',
    );
    const service = JSON.parse(printed) as {
      provider: { stage: string };
      functions: { api: { reservedConcurrency: number } };
    };
    expect(service.provider.stage).toBe('ci');
    expect(service.functions.api.reservedConcurrency).toBe(20);
  });
});

describe('npm run budget with dbProxy=true', () => {
  it('counts the proxy pool instead of the API and passes an API concurrency above the pool', () => {
    expect(proxied.stderr).toBe('');
    expect(proxied.code).toBe(0);
    const lines = proxied.stdout.split('\n').map((line) => line.replace(/\s+/g, ' ').trim());
    expect(lines).toContain(
      'api HTTP API GET /api/health, ANY /api/{proxy+}, GET /, GET /console, GET /console/{asset} app 100 0 (via proxy)',
    );
    expect(lines).toContain('rdsProxy the proxy pool (MaxConnectionsPercent of dbMaxConnections) app - 45');
    expect(lines).toContain('s3UploadArrived sqs app 2 2');
    expect(lines).toContain(
      'app user 48 (processImports 1 + s3UploadArrived 2 + rdsProxy 45) ≤ dbMaxUserConnections 60 − headroom 2 = 58 ok',
    );
    expect(lines).toContain(
      'all users 49 (processImports 1 + s3UploadArrived 2 + monitor 1 + rdsProxy 45) ≤ dbMaxConnections 90 − headroom 2 = 88 ok',
    );
  });

  it('fails a borrow timeout that does not end before the API timeout, and a pool the app user cannot hold', () => {
    expect(proxiedSlowBorrow.code).toBe(1);
    expect(proxiedSlowBorrow.stderr).toContain(
      "Stage prod: the proxy's ConnectionBorrowTimeout 10 s must be below api's timeout 10 s",
    );
    expect(proxiedSlowBorrow.stderr).toContain(
      'Stage prod can open 48 app-user connections (processImports 1 + s3UploadArrived 2 + rdsProxy 45) but dbMaxUserConnections 30 − headroom 2 leaves 28',
    );
    expect(proxiedSlowBorrow.stderr).toContain('Or lower dbProxyMaxConnectionsPercent');
  });
});
