// The local S3 stand-in: s3rver (an npm package, a real HTTP server) with the imports bucket, whose
// object-created events are handed to the same handler as in AWS, through serverless-offline's Lambda
// invoke endpoint, wrapped the way the SQS queue delivers them there. Used by `npm start` and tests.

import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import S3rver from 's3rver';
import { localStateDir } from './local-db.js';

/**
 * s3rver checks signatures against these fixed credentials. Not frozen: the SDK marks the credentials
 * object it is given (`$source`), so pass it a copy: `{ ...LOCAL_S3_CREDENTIALS }`.
 */
export const LOCAL_S3_CREDENTIALS: { readonly accessKeyId: string; readonly secretAccessKey: string } = {
  accessKeyId: 'S3RVER',
  secretAccessKey: 'S3RVER',
};
export const LOCAL_S3_BUCKET = 'eclectyc-local-imports';
const DEFAULT_LOCAL_S3_PORT = 4569;
const DEFAULT_LAMBDA_PORT = 3002;
const ARRIVAL_FUNCTION = 'eclectyc-local-s3UploadArrived';
/**
 * The browser console POSTs presigned forms straight to the bucket, so it needs CORS like the real
 * bucket's (serverless.yml, ImportsBucket). Any origin here: the local stack's ports vary.
 */
const LOCAL_BUCKET_CORS = `<CORSConfiguration><CORSRule>
<AllowedOrigin>*</AllowedOrigin><AllowedMethod>POST</AllowedMethod><AllowedHeader>content-type</AllowedHeader>
<ExposeHeader>ETag</ExposeHeader><ExposeHeader>Location</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds>
</CORSRule></CORSConfiguration>`;

/** The S3 event notification as s3rver emits it (and S3 sends it), as far as the handler reads it. */
export type S3Notification = { readonly Records?: readonly unknown[] };

export type LocalS3 = {
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  close(): Promise<void>;
};

export type LocalS3Options = {
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly directory: string;
  readonly bucket?: string;
  /** Called with every object-created notification; its failures are logged, never thrown. */
  readonly onObjectCreated?: (notification: S3Notification) => Promise<void>;
  readonly log?: (message: string) => void;
};

export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const bucket = options.bucket ?? LOCAL_S3_BUCKET;
  await mkdir(options.directory, { recursive: true });
  if (options.port !== 0) await assertPortFree(options.port);
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port,
    silent: true,
    directory: options.directory,
    // Path-style URLs only (the clients use forcePathStyle): no bucket.localhost host names.
    vhostBuckets: false,
    configureBuckets: [{ name: bucket, configs: [LOCAL_BUCKET_CORS] }],
  });
  server.on('event', (notification: S3Notification) => {
    const record = notification.Records?.[0] as { eventName?: unknown } | undefined;
    if (options.onObjectCreated === undefined || !String(record?.eventName).startsWith('ObjectCreated:')) {
      return;
    }
    options.onObjectCreated(notification).catch((error: unknown) => {
      (options.log ?? console.error)(`local S3: delivering an object-created event failed: ${String(error)}`);
    });
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    bucket,
    close: () => server.close(),
  };
}

/**
 * Rejects when `port` is taken. s3rver's run() cannot: it hands net's listen() a callback that never
 * receives the error, so a taken port became an unhandled 'error' event that ended `npm start` with a
 * bare EADDRINUSE instead of startLocalS3Stack's advice.
 */
async function assertPortFree(port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(port, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** An SQS event holding one message whose body is the S3 notification: what the queue hands the handler. */
export function asSqsEvent(notification: S3Notification, messageId: string) {
  return {
    Records: [
      {
        messageId,
        receiptHandle: messageId,
        body: JSON.stringify(notification),
        attributes: {},
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:local:000000000000:eclectyc-local-upload-events',
        awsRegion: 'local',
      },
    ],
  };
}

/** Invokes the arrival handler through serverless-offline's Lambda API (what the SQS trigger does in AWS). */
export async function invokeArrivalFunction(lambdaPort: number, notification: S3Notification): Promise<void> {
  const response = await fetch(
    `http://127.0.0.1:${lambdaPort}/2015-03-31/functions/${ARRIVAL_FUNCTION}/invocations`,
    { method: 'POST', body: JSON.stringify(asSqsEvent(notification, crypto.randomUUID())) },
  );
  const text = await response.text();
  if (!response.ok || response.headers.get('x-amz-function-error') !== null) {
    throw new Error(`invoke answered ${response.status}: ${text.slice(0, 300)}`);
  }
}

/**
 * `npm start`'s hook, one line in scripts/start.ts: `Object.assign(env, await startLocalS3Stack(env));`.
 * Starts s3rver with the bucket on LOCAL_S3_PORT (4569), its objects under the state dir's s3/, forwards its events to the offline Lambda
 * port, and returns the variables that point the functions at it.
 */
export async function startLocalS3Stack(
  env: Readonly<Record<string, string | undefined>>,
): Promise<Record<string, string>> {
  const lambdaPort = Number(env.LAMBDA_PORT ?? DEFAULT_LAMBDA_PORT);
  const port = Number(env.LOCAL_S3_PORT ?? DEFAULT_LOCAL_S3_PORT);
  const s3 = await startLocalS3({
    port,
    directory: env.LOCAL_S3_DIRECTORY ?? join(localStateDir(env), 's3'),
    onObjectCreated: (notification) => invokeArrivalFunction(lambdaPort, notification),
  }).catch((error: unknown) => {
    throw new Error(
      `Cannot start the local S3 endpoint on port ${port} (${String(error)}): set LOCAL_S3_PORT to a free port.`,
    );
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void s3.close());
  console.log(
    `Local S3 (s3rver) on ${s3.endpoint}, bucket ${s3.bucket}; events go to the Lambda port ${lambdaPort}`,
  );
  return {
    IMPORT_BUCKET: s3.bucket,
    IMPORT_S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
  };
}
