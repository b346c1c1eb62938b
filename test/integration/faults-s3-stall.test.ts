// An S3 download that stalls mid-body (a TCP proxy in front of s3rver stops passing bytes) must not
// hold the invocation: the read times out, the job is re-queued keeping its checkpoint, the S3 socket
// and the database session are freed, and the next run resumes from the byte offset with a range read.

import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../lib/storage/s3-client.js';
import { loadStorageConfig } from '../../lib/storage/storage-config.js';
import { LOCAL_S3_CREDENTIALS } from '../../scripts/local-s3.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { intervalCsv, migrate, readingLines, readJob, runProcessor } from '../helpers/import-jobs.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

/** Forwards to `port`; once `stallAfterBytes` response bytes went through a connection, passes no more. */
type StallingProxy = {
  readonly endpoint: string;
  stallAfterBytes: number;
  /** Client connections still open. */
  openConnections(): number;
  close(): Promise<void>;
};

async function startStallingProxy(port: number): Promise<StallingProxy> {
  const sockets = new Set<Socket>();
  const proxy = {
    stallAfterBytes: Number.POSITIVE_INFINITY,
    openConnections: () => [...sockets].filter((socket) => !socket.destroyed).length,
  };
  const server: Server = createServer((client) => {
    sockets.add(client);
    const upstream = connect(port, '127.0.0.1');
    let passed = 0;
    client.pipe(upstream);
    upstream.on('data', (data: Buffer) => {
      if (passed >= proxy.stallAfterBytes) return;
      const room = proxy.stallAfterBytes - passed;
      client.write(room >= data.length ? data : data.subarray(0, room));
      passed += data.length;
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closeBoth).on('error', closeBoth);
    // A stalled connection stays open and silent even when the server behind it is done.
    const closeUnlessStalled = () => {
      if (passed < proxy.stallAfterBytes) closeBoth();
    };
    upstream.on('close', closeUnlessStalled).on('error', closeUnlessStalled);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return Object.assign(proxy, {
    endpoint: `http://127.0.0.1:${address.port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}

let testDb: TestDatabase;
let s3: TestS3;
let proxy: StallingProxy;

beforeAll(async () => {
  [testDb, s3] = await Promise.all([createTestDatabase({ maxUserConnections: 3 }), startTestS3()]);
  await migrate(testDb);
  proxy = await startStallingProxy(Number(new URL(s3.endpoint).port));
});

afterAll(async () => {
  await proxy.close();
  await Promise.all([testDb.drop(), s3.stop()]);
});

proveSessionAccounting(() => testDb);

function runThroughProxy() {
  const storage = loadStorageConfig({
    IMPORT_BUCKET: s3.bucket,
    IMPORT_S3_ENDPOINT: proxy.endpoint,
    AWS_REGION: 'us-east-1',
  });
  return runProcessor(testDb, {
    batchSize: 300,
    writeMode: 'auto',
    createS3Client: () =>
      createS3Client(storage, { credentials: { ...LOCAL_S3_CREDENTIALS }, socketIdleTimeoutMs: 400 }),
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!condition() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
  return condition();
}

/** Puts `csv` in the bucket and queues an S3 job for it, as an upload's arrival would. */
async function queueS3Job(csv: string): Promise<{ batchId: string; key: string }> {
  const key = `imports/${randomUUID()}/stall.csv`;
  const put = await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: csv }));
  const batchId = randomUUID();
  await testDb.admin.query(
    `INSERT INTO import_jobs (batch_id, filename, import_type, storage, s3_bucket, s3_key, s3_etag, s3_size_bytes)
     VALUES (?, 'stall.csv', 'hh', 's3', ?, ?, ?, ?)`,
    [batchId, s3.bucket, key, String(put.ETag).replaceAll('"', ''), Buffer.byteLength(csv)],
  );
  return { batchId, key };
}

describe('a stalled S3 download', () => {
  it('times out, re-queues the job with its checkpoint, frees the socket, and the next run resumes by range', async () => {
    const { csv, readings } = intervalCsv(8, 10); // 3,840 readings, ~170 KB
    const { batchId } = await queueS3Job(csv);
    proxy.stallAfterBytes = 60_000;
    const startedMs = Date.now();
    const [stalled] = await runThroughProxy();
    expect(Date.now() - startedMs).toBeLessThan(10_000);
    expect(stalled).toMatchObject({
      batchId,
      outcome: 'requeued',
      errorCode: 'STORAGE_ERROR',
      detail: 'Reading the uploaded file from storage failed',
    });
    const requeued = await readJob(testDb, batchId);
    expect(requeued).toMatchObject({ status: 'queued', retry_count: 1, lease_owner: null });
    expect(requeued.checkpoint_row).toBeGreaterThan(0);
    expect(requeued.checkpoint_row).toBeLessThan(readings);
    expect(await readingLines(testDb)).toHaveLength(requeued.checkpoint_row);
    // The run destroyed its S3 client: no connection to the proxy is left open.
    expect(await waitFor(() => proxy.openConnections() === 0)).toBe(true);

    proxy.stallAfterBytes = Number.POSITIVE_INFINITY;
    await testDb.admin.query('UPDATE import_jobs SET retry_at = NOW(3) WHERE batch_id = ?', [batchId]);
    const [resumed] = await runThroughProxy();
    expect(resumed).toMatchObject({
      outcome: 'completed',
      processedRows: readings,
      importedRows: readings,
      resumed: { seek: 'range', byteOffset: requeued.checkpoint_byte_offset },
    });
    expect(await readingLines(testDb)).toHaveLength(readings);
    expect(await waitFor(() => proxy.openConnections() === 0)).toBe(true);
  });

  it('fails, without retries, a job whose object was deleted after its first run committed rows', async () => {
    await testDb.admin.query('DELETE FROM meter_readings');
    const { csv, readings } = intervalCsv(8, 10);
    const { batchId, key } = await queueS3Job(csv);
    proxy.stallAfterBytes = 60_000;
    const [stalled] = await runThroughProxy();
    expect(stalled).toMatchObject({ batchId, outcome: 'requeued', errorCode: 'STORAGE_ERROR' });
    const requeued = await readJob(testDb, batchId);
    expect(requeued.checkpoint_row).toBeGreaterThan(0);
    expect(requeued.checkpoint_row).toBeLessThan(readings);

    proxy.stallAfterBytes = Number.POSITIVE_INFINITY;
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
    await testDb.admin.query('UPDATE import_jobs SET retry_at = NOW(3) WHERE batch_id = ?', [batchId]);
    const [gone] = await runThroughProxy();
    // The resume's first read (the header) finds no object: the upload's fault, not storage's.
    expect(gone).toMatchObject({
      batchId,
      outcome: 'failed',
      errorCode: 'UPLOAD_UNAVAILABLE',
      detail: 'The uploaded file is no longer stored; upload it again',
      processedRows: requeued.checkpoint_row,
      importedRows: requeued.checkpoint_row,
    });
    expect(await readJob(testDb, batchId)).toMatchObject({
      status: 'failed',
      error_code: 'UPLOAD_UNAVAILABLE',
      retry_count: 1,
      checkpoint_row: requeued.checkpoint_row,
    });
    // What the first run committed stays; nothing was read past it.
    expect(await readingLines(testDb)).toHaveLength(requeued.checkpoint_row);
    expect(await waitFor(() => proxy.openConnections() === 0)).toBe(true);
  });
});
