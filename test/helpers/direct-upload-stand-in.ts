// Until the presigned-upload route (issue 13) is on this branch: a stand-in for
// POST /api/import/uploads that queues a job and answers in that route's documented 201 shape, and a
// storage endpoint on a free port that takes the multipart form as S3 does (fields, then `file`) and
// records what arrived. Drop both once the real route and the local S3 endpoint are here.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { type HttpResponse, json } from '../../lib/http.js';
import { seedJob } from './api.js';
import type { TestDatabase } from './database.js';

export type ReceivedUpload = {
  readonly fieldNames: readonly string[];
  readonly fields: Readonly<Record<string, string>>;
  readonly fileBytes: number;
  readonly fileSha256: string;
};

export type FakeStorage = {
  readonly origin: string;
  readonly received: ReceivedUpload[];
  /** CORS preflights (OPTIONS) answered so far. */
  preflights(): number;
  close(): Promise<void>;
};

/**
 * Answers a form POST to /imports-bucket with 204 (S3's default), and the CORS preflight before it, as
 * a bucket whose CORS rules allow POST from the console's origin does.
 */
export async function startFakeStorage(): Promise<FakeStorage> {
  const received: ReceivedUpload[] = [];
  let preflights = 0;
  const server: Server = createServer((request, response) => {
    void (async () => {
      const cors = { 'access-control-allow-origin': '*' };
      // A browser asks first: an XMLHttpRequest that reports upload progress is always preflighted.
      if (request.method === 'OPTIONS') {
        preflights++;
        response
          .writeHead(204, { ...cors, 'access-control-allow-methods': 'POST', 'access-control-max-age': '0' })
          .end();
        return;
      }
      if (request.method !== 'POST' || request.url !== '/imports-bucket') {
        response.writeHead(405, cors).end();
        return;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(Buffer.from(chunk));
      const form = await new Request('http://storage.invalid/', {
        method: 'POST',
        headers: { 'content-type': request.headers['content-type'] ?? '' },
        body: Buffer.concat(chunks),
      }).formData();
      const fieldNames: string[] = [];
      const fields: Record<string, string> = {};
      let file: Buffer = Buffer.alloc(0);
      for (const [name, value] of form.entries()) {
        fieldNames.push(name);
        if (typeof value === 'string') fields[name] = value;
        else file = Buffer.from(await value.arrayBuffer());
      }
      received.push({
        fieldNames,
        fields,
        fileBytes: file.length,
        fileSha256: createHash('sha256').update(file).digest('hex'),
      });
      response.writeHead(204, cors).end();
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake storage: no TCP address');
  return {
    origin: `http://127.0.0.1:${address.port}`,
    received,
    preflights: () => preflights,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** POST /api/import/uploads in the shape issue 13 specifies; undefined for any other request. */
export function directUploadStandIn(
  testDb: TestDatabase,
  token: string,
  storageOrigin: string,
): (event: APIGatewayProxyEventV2) => Promise<HttpResponse> | undefined {
  return (event) => {
    if (event.rawPath !== '/api/import/uploads' || event.requestContext.http.method !== 'POST')
      return undefined;
    return (async () => {
      if (event.headers.authorization !== `Bearer ${token}`) return json(401, { error: 'Unauthorized' });
      const query = event.queryStringParameters ?? {};
      if (query.type === undefined) return json(400, { error: 'type must be one of: hh, daily, sites' });
      const filename = query.filename ?? 'upload.csv';
      const batchId = await seedJob(
        testDb,
        { filename, import_type: query.type, status: 'queued' },
        { withFile: false },
      );
      return json(201, {
        batch_id: batchId,
        status: 'awaiting_upload',
        upload: {
          url: `${storageOrigin}/imports-bucket`,
          fields: {
            key: `imports/${batchId}/${filename}`,
            Policy: 'cG9saWN5',
            'X-Amz-Signature': 'c2lnbmF0dXJl',
          },
          max_bytes: 64 * 1024 * 1024,
        },
        expires_at: new Date(Date.now() + 900_000).toISOString(),
      });
    })();
  };
}
