// Builds the S3 client for one invocation. Like the database connection, a client (and the sockets
// its HTTP agent keeps alive) is never kept at module scope: the caller destroys it in `finally`.

import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { StorageConfig } from './storage-config.js';

export type S3Credentials = NonNullable<S3ClientConfig['credentials']>;

export function createS3Client(
  storage: StorageConfig,
  options: { readonly credentials?: S3Credentials | undefined } = {},
): S3Client {
  return new S3Client({
    region: storage.region,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    ...(storage.endpoint === undefined
      ? {}
      : {
          endpoint: storage.endpoint,
          forcePathStyle: true,
          // SDK ≥ 3.729 sends CRC checksums by default, which s3rver rejects.
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        }),
  });
}

/** Runs work with a fresh client and destroys it after, whatever happens. */
export async function withS3Client<T>(
  storage: StorageConfig,
  work: (client: S3Client) => Promise<T>,
  options: { readonly credentials?: S3Credentials | undefined } = {},
): Promise<T> {
  const client = createS3Client(storage, options);
  try {
    return await work(client);
  } finally {
    client.destroy();
  }
}
