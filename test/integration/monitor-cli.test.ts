// `npm run monitor` as operators run it: a child process against the real server, its text and JSON
// reports, its exit status per level, its kills, and its fallback to the app's own login.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseSnapshot } from '../../lib/monitor/snapshot.js';
import { ADMIN_CONNECTION, createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { migrate } from '../helpers/import-jobs.js';
import {
  createTestUser,
  monitorGrants,
  PAST_ONE_SECOND_MS,
  SessionPool,
  sleep,
  type TestUser,
  threadIdOf,
} from '../helpers/monitor.js';

const run = promisify(execFile);
const LIMIT = 2;
let testDb: TestDatabase;
let monitorUser: TestUser;
const pool = new SessionPool();

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: LIMIT });
  await migrate(testDb);
  monitorUser = await createTestUser(
    testDb.admin,
    'moncli',
    monitorGrants({ connectionAdmin: true, importSchema: testDb.name }),
  );
});

afterAll(async () => {
  if (testDb) await pool.closeAll(testDb.admin);
  await monitorUser?.drop();
  await testDb?.drop();
});

beforeEach(async () => {
  expect(await testDb.sessionCount()).toBe(0);
});

afterEach(async () => {
  await pool.closeAll(testDb.admin);
  expect(await testDb.waitForSessions(0)).toBe(0);
  expect(await monitorUser.waitForSessions(0)).toBe(0);
});

const app = () => ({ user: testDb.user, password: testDb.password, database: testDb.name });

type CliResult = { status: number; stdout: string; stderr: string };

async function monitorCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    TZ: 'UTC',
    DB_HOST: ADMIN_CONNECTION.host,
    DB_PORT: String(ADMIN_CONNECTION.port),
    DB_NAME: testDb.name,
    DB_USER: testDb.user,
    DB_PASSWORD: testDb.password,
    MONITOR_DB_USER: monitorUser.user,
    MONITOR_DB_PASSWORD: monitorUser.password,
    ...env,
  };
  try {
    const { stdout, stderr } = await run('node_modules/.bin/tsx', ['scripts/monitor.ts', ...args], {
      env: childEnv,
      timeout: 60_000,
    });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: unknown; stderr?: unknown };
    if (typeof failed.code !== 'number') throw error;
    return { status: failed.code, stdout: String(failed.stdout), stderr: String(failed.stderr) };
  }
}

describe('npm run monitor', () => {
  it('prints the report layout and exits 0 when usage is healthy', async () => {
    const result = await monitorCli([]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(
      /^={43}\n {2}Database Connection Monitor\n {2}\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d\n={43}\n\nTotal Connections: \d+ \(this monitor's own session not counted\)\n/,
    );
    expect(result.stdout).toContain(`Your User Connections: 0 (${testDb.user})\n`);
    expect(result.stdout).toContain(
      `  Current usage: 0 / ${LIMIT} (0.0%)\n  ✓ Connection usage is healthy\n`,
    );
    expect(result.stdout).toContain('Import Queue:\n  Queued: 0\n');
  });

  it('exits 3 at warning, and with --kill-idle kills the idle sessions at the emergency threshold', async () => {
    const idle = await pool.openMany(LIMIT, app());
    await sleep(PAST_ONE_SECOND_MS);

    const dryRun = await monitorCli(['--max-idle=1']);
    expect(dryRun.status).toBe(3);
    expect(dryRun.stdout).toContain('  ✗ WARNING: Connection usage is above 80%\n');
    expect(dryRun.stdout).toContain(`Dry run: would kill ${LIMIT} idle connection(s)`);
    expect(await testDb.sessionCount()).toBe(LIMIT);

    const killed = await monitorCli(['--kill-idle', '--max-idle=1']);
    expect(killed.status).toBe(3);
    for (const session of idle) {
      expect(killed.stdout).toMatch(
        new RegExp(`\\nKilled connection ${threadIdOf(session)} \\(idle for \\d+s\\)\\n`),
      );
    }
    expect(killed.stdout).toContain(`\nKilled ${LIMIT} idle connection(s)\n`);
    expect(
      killed.stderr
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).message),
    ).toEqual(idle.map(() => 'killed idle session'));
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('exits 2 at caution and prints the JSON report with --json', async () => {
    await pool.openMany(1, app());
    const result = await monitorCli(['--json'], { USAGE_CAUTION_PERCENT: '40', USAGE_WARNING_PERCENT: '60' });
    expect(result.status).toBe(2);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      level: 'caution',
      dryRun: true,
      users: [{ user: testDb.user, total: 1 }],
    });
  });

  it('falls back to the app’s own login without MONITOR_DB_USER, and does not count its own session', async () => {
    const result = await monitorCli([], { MONITOR_DB_USER: '', MONITOR_DB_PASSWORD: '' });
    expect(result.stderr).toContain('logging in as the app user');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`Your User Connections: 0 (${testDb.user})\n`);
    expect(result.stdout).toContain(`  Effective limit: ${LIMIT}\n`);
    expect(result.stdout).toContain('Note: without PROCESS open transactions are not visible');
  });

  it('exits 1 with the error on stderr when its login is refused', async () => {
    const result = await monitorCli([], { MONITOR_DB_PASSWORD: 'wrong' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^DatabaseError: Access denied/);
    expect(result.stdout).toBe('');
  });

  it('exits 1 with the usage on an unknown argument or a bad --max-idle', async () => {
    const unknown = await monitorCli(['--kill']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('Unknown argument "--kill"');
    expect(unknown.stderr).toContain('Usage: npm run monitor --');
    const badIdle = await monitorCli(['--max-idle=soon']);
    expect(badIdle.status).toBe(1);
    expect(badIdle.stderr).toContain('MAX_IDLE_SECONDS: must be a whole number');
  });
});

describe('npm run monitor: snapshots', () => {
  it('saves what a live run read with --snapshot-out, and --from-snapshot decides the same with no database', async () => {
    const idle = await pool.openMany(LIMIT, app());
    await sleep(PAST_ONE_SECOND_MS);
    const directory = await mkdtemp(join(tmpdir(), 'eclectyc-snapshot-'));
    const file = join(directory, 'snapshot.json');
    try {
      const live = await monitorCli(['--max-idle=1', '--json', `--snapshot-out=${file}`]);
      expect(live.status).toBe(3);
      const saved = parseSnapshot(await readFile(file, 'utf8'));
      expect(
        saved.sessions
          .filter((session) => session.user === testDb.user)
          .map((session) => session.id)
          .sort(),
      ).toEqual(idle.map(threadIdOf).sort());
      expect(saved.accounts).toEqual([{ user: testDb.user, host: '%', maxUserConnections: LIMIT }]);

      // Port 1 and a wrong password: any attempt to connect would fail the run.
      const offline = await monitorCli(['--max-idle=1', '--json', `--from-snapshot=${file}`], {
        DB_PORT: '1',
        MONITOR_DB_PASSWORD: 'wrong',
      });
      expect(offline.status).toBe(3);
      const liveReport = JSON.parse(live.stdout);
      const offlineReport = JSON.parse(offline.stdout);
      expect(offlineReport.kills).toEqual(liveReport.kills);
      expect(offlineReport.users).toEqual(liveReport.users);
      expect(offlineReport.checkedAt).toBe(saved.takenAt);
      expect(offlineReport.importQueueSkipped).toBe('offline evaluation');
      expect(await testDb.sessionCount()).toBe(LIMIT);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('prints each target session’s decision and why, from a shipped snapshot and the flags', async () => {
    const result = await monitorCli([
      '--from-snapshot=test/fixtures/monitor/snapshot-mysql8-healthy.json',
      '--never-kill=program:mysql',
      '--max-busy=120',
    ]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Would kill connection 301 (idle for 700s)\n');
    expect(result.stdout).toContain(
      'Would stop the statement of connection 304 (statement running for 150s)\n',
    );
    expect(result.stdout).toMatch(
      /\n {2}303 +app +10\.0\.9\.5:50311 +mysql +Sleep +2000 +keep: never-kill\n/,
    );
    expect(result.stdout).toMatch(/\n {2}305 .* keep: bulk-load-in-time\n/);
    expect(result.stdout).toContain(
      'Dry run: would kill 2 idle connection(s) and stop 1 runaway statement(s)',
    );
  });

  it('refuses --kill-idle with --from-snapshot, and names a broken snapshot’s field', async () => {
    const both = await monitorCli([
      '--kill-idle',
      '--from-snapshot=test/fixtures/monitor/snapshot-mysql8-healthy.json',
    ]);
    expect(both.status).toBe(1);
    expect(both.stderr).toContain('--from-snapshot evaluates offline');
    const broken = await monitorCli(['--from-snapshot=package.json']);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toContain('SnapshotError: format');
  });
});
