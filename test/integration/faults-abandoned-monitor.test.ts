// An invocation abandoned mid-work (the process frozen before `finally`, as Lambda freezes an
// environment): the monitor reports its session and kills it long before the server's wait_timeout
// would, when the monitor's idle threshold is the shorter one.

import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMonitorHandler } from '../../functions/monitor.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { migrate } from '../helpers/import-jobs.js';
import { fakeContext } from '../helpers/lambda.js';
import { captureEmf, createTestUser, monitorGrants, sleep, type TestUser } from '../helpers/monitor.js';

let testDb: TestDatabase;
let monitorUser: TestUser;
let child: ChildProcess | undefined;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 3 });
  await migrate(testDb);
  monitorUser = await createTestUser(
    testDb.admin,
    'mon',
    monitorGrants({ connectionAdmin: true, importSchema: testDb.name }),
  );
});

afterEach(() => {
  child?.kill('SIGKILL');
});

afterAll(async () => {
  await monitorUser?.drop();
  await testDb?.drop();
});

/** Starts withConnection in a child process that never finishes its work, and freezes it. */
async function abandonSession(waitTimeoutSeconds: number): Promise<number> {
  const started = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/abandon-child.ts'], {
    env: {
      ...process.env,
      DB_HOST: '127.0.0.1',
      DB_NAME: testDb.name,
      DB_USER: testDb.user,
      DB_PASSWORD: testDb.password,
      DB_SESSION_WAIT_TIMEOUT_S: String(waitTimeoutSeconds),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child = started;
  const threadId = await new Promise<number>((resolve, reject) => {
    started.stdout?.on('data', (chunk: Buffer) => {
      const match = /thread (\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
    started.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
  });
  started.kill('SIGSTOP');
  return threadId;
}

describe('an abandoned invocation', () => {
  it('is reported and killed by the monitor before the server’s wait_timeout would close it', async () => {
    const threadId = await abandonSession(60);
    expect(await testDb.sessionCount()).toBe(1);
    await sleep(3200); // PROCESSLIST.TIME is whole seconds and must exceed the 2 s threshold
    const handler = createMonitorHandler(
      testDb.config({
        STAGE: 'test',
        MONITOR_DB_USER: monitorUser.user,
        MONITOR_DB_PASSWORD: monitorUser.password,
        KILL_IDLE: 'true',
        MAX_IDLE_SECONDS: '2',
        EMERGENCY_MAX_IDLE_SECONDS: '2',
      }),
    );
    const { result: report, error } = await captureEmf(() => handler({}, fakeContext()));
    expect(error).toBeUndefined();
    expect(report?.idleSessions.map((session) => session.id)).toEqual([threadId]);
    expect(report?.kills).toEqual([expect.objectContaining({ id: threadId, result: 'killed' })]);
    // Gone well inside the 60 s wait_timeout the session was opened with.
    expect(await testDb.waitForSessions(0, 3000)).toBe(0);
    expect(await monitorUser.waitForSessions(0)).toBe(0);
  });
});
