// What S3 itself answers that s3rver does not: 412 for a failed If-Match, and the request sent.

import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { getObjectStream } from '../../lib/storage/s3-object-reader.js';
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

  it('passes other errors (throttling, network) through for the caller to retry', async () => {
    s3.on(GetObjectCommand).rejects(serviceError('SlowDown', 503));
    const error = await getObjectStream(new S3Client({}), { bucket: 'b', key: 'k', etag: null }, 0).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(S3ServiceException);
    expect(error).not.toBeInstanceOf(StoredFileError);
  });
});
