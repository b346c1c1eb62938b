// The smoke's direct-upload step against the real pieces it drives under `npm start`: the API handler,
// a real s3rver whose object-created events reach the arrival handler, and the processor after it.

import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../functions/api.js';
import { createProcessImportsHandler } from '../../functions/process-imports.js';
import { createS3UploadArrivedHandler } from '../../functions/s3-upload-arrived.js';
import { hashToken } from '../../lib/auth.js';
import { asSqsEvent, LOCAL_S3_CREDENTIALS } from '../../scripts/local-s3.js';
import { type SmokeApi, uploadDirectly } from '../../scripts/smoke-direct-upload.js';
import { AUTH, bodyOf, jobRow, migrate, TOKEN } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { fakeContext } from '../helpers/lambda.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

let testDb: TestDatabase;
let s3: TestS3;
let env: Record<string, string>;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 5 });
  await migrate(testDb);
  s3 = await startTestS3({}, async (notification) => {
    // What the local stack does: the event goes to the arrival function, as SQS would deliver it.
    await createS3UploadArrivedHandler(testDb.config(env))(
      asSqsEvent(notification, 'smoke') as never,
      fakeContext(),
    );
  });
  env = {
    API_TOKEN_HASHES: hashToken(TOKEN),
    IMPORT_BUCKET: s3.bucket,
    IMPORT_S3_ENDPOINT: s3.endpoint,
    AWS_REGION: 'us-east-1',
  };
});

afterAll(async () => {
  await Promise.all([s3.stop(), testDb.drop()]);
});

proveSessionAccounting(() => testDb);

function smokeApi(): SmokeApi {
  const handler = createApiHandler(testDb.config(env), { s3Credentials: { ...LOCAL_S3_CREDENTIALS } });
  return async (method, path) => {
    const [route = '', query = ''] = path.split('?');
    const response = await handler(
      httpEvent(method, route, { headers: AUTH, query: Object.fromEntries(new URLSearchParams(query)) }),
      fakeContext(),
    );
    return { status: response.statusCode ?? 0, body: bodyOf(response) };
  };
}

describe('uploadDirectly (the smoke step)', () => {
  it('uploads an example through the presigned form and returns once the event queued the job', async () => {
    const file = await readFile('examples/daily.csv');
    const batchId = await uploadDirectly(smokeApi(), file, 'type=daily&filename=daily.csv');
    expect((await jobRow(testDb, batchId)).status).toBe('queued');
    const run = await createProcessImportsHandler(testDb.config(env), {
      s3Credentials: { ...LOCAL_S3_CREDENTIALS },
    })({}, fakeContext(60_000));
    expect(run).toMatchObject({
      task: 'import',
      jobs: [{ batchId, outcome: 'completed', importedRows: 21 }],
    });
  });

  it('names the step that failed: the API refusing the request', async () => {
    const refusing: SmokeApi = async () => ({
      status: 501,
      body: { error: 'Direct uploads are not enabled' },
    });
    await expect(uploadDirectly(refusing, Buffer.from('x'), 'type=daily')).rejects.toThrow(
      'POST /api/import/uploads answered 501: {"error":"Direct uploads are not enabled"}',
    );
  });

  it('gives up, saying so, when no event ever queues the job', async () => {
    const api = smokeApi();
    const withoutEvents: SmokeApi = async (method, path) => {
      const answer = await api(method, path);
      // The job as it would stay if the event never came.
      return method === 'GET' ? { ...answer, body: { ...answer.body, status: 'awaiting_upload' } } : answer;
    };
    await expect(
      uploadDirectly(withoutEvents, Buffer.from('MPAN,Date,Reading\nE1,2024-01-01,1\n'), 'type=daily', 500),
    ).rejects.toThrow(/still awaits its upload after 500 ms/);
  });
});
