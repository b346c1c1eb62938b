// Every handler adds its invocation's Lambda context to the logger: each line it writes carries the
// request id, the function's name and whether this was a cold start.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../functions/api.js';
import { createMonitorHandler } from '../../functions/monitor.js';
import { createProcessImportsHandler } from '../../functions/process-imports.js';
import { logger } from '../../lib/logger.js';
import { migrate } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { fakeContext } from '../helpers/lambda.js';
import { createTestUser, monitorGrants, type TestUser } from '../helpers/monitor.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

let testDb: TestDatabase;
let monitorUser: TestUser;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 3 });
  await migrate(testDb);
  monitorUser = await createTestUser(
    testDb.admin,
    'mon',
    monitorGrants({ connectionAdmin: true, importSchema: testDb.name }),
  );
  logger.setLogLevel('INFO');
});

afterAll(async () => {
  logger.setLogLevel('WARN');
  await monitorUser?.drop();
  await testDb?.drop();
});

proveSessionAccounting(() => testDb);

/** The JSON log lines `work` writes (stdout and stderr), with the message given. */
async function logLines(work: () => Promise<unknown>, message: string): Promise<Record<string, unknown>[]> {
  const written: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    vi.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    }),
  );
  try {
    await work();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return written
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line): Record<string, unknown> => JSON.parse(line))
    .filter((line) => line.message === message);
}

describe('the handlers’ log lines', () => {
  it.each([
    [
      'api',
      'request',
      (context: ReturnType<typeof fakeContext>) =>
        createApiHandler(testDb.config())(httpEvent('GET', '/api/health'), context),
    ],
    [
      'processImports',
      'import run',
      (context: ReturnType<typeof fakeContext>) => createProcessImportsHandler(testDb.config())({}, context),
    ],
    [
      'monitor',
      'monitor run',
      (context: ReturnType<typeof fakeContext>) =>
        createMonitorHandler(
          testDb.config({
            STAGE: 'test',
            MONITOR_DB_USER: monitorUser.user,
            MONITOR_DB_PASSWORD: monitorUser.password,
          }),
        )({}, context),
    ],
  ])(
    '%s carries the invocation’s request id, function name and cold start',
    async (name, message, invoke) => {
      const context = fakeContext(10_000, `eclectyc-test-${name}`);
      const lines = await logLines(() => invoke(context), message);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        function_request_id: context.awsRequestId,
        function_name: `eclectyc-test-${name}`,
        cold_start: expect.any(Boolean),
      });
    },
  );
});
