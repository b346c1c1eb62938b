// What S3 itself answers that s3rver does not: 412 for a failed If-Match, and the request sent.

import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { isDriverError } from '../../lib/errors.js';
import { getObjectStream } from '../../lib/storage/s3-object-reader.js';
import { StorageReadError } from '../../lib/storage/storage-read-error.js';
import { StoredFileError } from '../../lib/storage/stored-file-error.js';

const s3 = mockClient(S3Client);

afterEach(() => {
  s3.reset();
});

function serviceError(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status } });
}

describe('getObjectStream', () => {
  it('asks for the range from the offset, pinned to the recorded ETag', async () => {
    s3.on(GetObjectCommand).rejects(serviceError('PreconditionFailed', 412));
    const object = { bucket: 'b', key: 'imports/x/f.csv', etag: 'abc' };
    const error = await getObjectStream(new S3Client({}), object, 100).catch((caught: unknown) => caught);
    expect(error instanceof StoredFileError ? error.code : error).toBe('object-changed');
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'b',
      Key: 'imports/x/f.csv',
      Range: 'bytes=100-',
      IfMatch: '"abc"',
    });
  });

  it('reads from the start without a Range header and without If-Match when no ETag is known', async () => {
    s3.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
    const object = { bucket: 'b', key: 'k', etag: null };
    const error = await getObjectStream(new S3Client({}), object, 0).catch((caught: unknown) => caught);
    expect(error instanceof StoredFileError ? error.code : error).toBe('object-missing');
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({ Bucket: 'b', Key: 'k' });
  });

  it('reports other errors (throttling, network) as StorageReadError for the caller to retry', async () => {
    const slowDown = serviceError('SlowDown', 503);
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    for (const cause of [slowDown, reset]) {
      s3.reset();
      s3.on(GetObjectCommand).rejects(cause);
      const error = await getObjectStream(new S3Client({}), { bucket: 'b', key: 'k', etag: null }, 0).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(StorageReadError);
      // Not taken for a database error: Node's network errors carry a `code` as mysql2's do.
      expect(isDriverError(error)).toBe(false);
      expect(error instanceof StorageReadError ? error.cause : null).toBe(cause);
    }
  });
});
