// Builds the S3 client for one invocation. Like the database connection, a client (and the sockets
// its HTTP agent keeps alive) is never kept at module scope: the caller destroys it in `finally`.

import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { StorageConfig } from './storage-config.js';

export type S3Credentials = NonNullable<S3ClientConfig['credentials']>;

/**
 * A socket that passes nothing for this long fails its request, also mid-body: a stalled GetObject then
 * errors (the job is re-queued and resumes from its checkpoint) instead of holding the invocation until
 * Lambda kills it. The socket also idles while the processor, waiting for a batch to commit, stops
 * reading (backpressure), so this is longer than any batch may take: InnoDB's lock wait is 50 s.
 */
export const S3_SOCKET_IDLE_TIMEOUT_MS = 60_000;
const S3_CONNECT_TIMEOUT_MS = 5000;

export type S3ClientOptions = {
  readonly credentials?: S3Credentials | undefined;
  /** Tests shorten it; see S3_SOCKET_IDLE_TIMEOUT_MS. */
  readonly socketIdleTimeoutMs?: number;
};

export function createS3Client(storage: StorageConfig, options: S3ClientOptions = {}): S3Client {
  return new S3Client({
    region: storage.region,
    requestHandler: {
      connectionTimeout: S3_CONNECT_TIMEOUT_MS,
      socketTimeout: options.socketIdleTimeoutMs ?? S3_SOCKET_IDLE_TIMEOUT_MS,
    },
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
  options: S3ClientOptions = {},
): Promise<T> {
  const client = createS3Client(storage, options);
  try {
    return await work(client);
  } finally {
    client.destroy();
  }
}
