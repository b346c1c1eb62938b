// A private s3rver on a free port for one test file (the real local stand-in, not a mocked client),
// with a storage config and client pointed at it.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../lib/storage/s3-client.js';
import { loadStorageConfig, type StorageConfig } from '../../lib/storage/storage-config.js';
import { LOCAL_S3_CREDENTIALS, type S3Notification, startLocalS3 } from '../../scripts/local-s3.js';

export type TestS3 = {
  readonly storage: StorageConfig;
  readonly client: S3Client;
  readonly endpoint: string;
  readonly bucket: string;
  /** Object-created notifications seen so far, in order. */
  readonly notifications: S3Notification[];
  stop(): Promise<void>;
};

export async function startTestS3(
  env: Readonly<Record<string, string>> = {},
  onObjectCreated?: (notification: S3Notification) => Promise<void>,
): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'eclectyc-s3rver-'));
  const notifications: S3Notification[] = [];
  const s3 = await startLocalS3({
    port: 0,
    directory,
    bucket: 'test-imports',
    onObjectCreated: async (notification) => {
      notifications.push(notification);
      await onObjectCreated?.(notification);
    },
  });
  const storage = loadStorageConfig({
    IMPORT_BUCKET: s3.bucket,
    IMPORT_S3_ENDPOINT: s3.endpoint,
    AWS_REGION: 'us-east-1',
    ...env,
  });
  const client = createS3Client(storage, { credentials: { ...LOCAL_S3_CREDENTIALS } });
  return {
    storage,
    client,
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    notifications,
    stop: async () => {
      client.destroy();
      await s3.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
