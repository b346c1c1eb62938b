// Reads an uploaded object from S3 as a stream: from its start, or with a ranged GetObject from a byte
// offset (a resumed job). The object is pinned by its ETag, so a resumed read can never continue in
// bytes that were replaced meanwhile. Never buffers the object, never touches /tmp.

import { PassThrough, pipeline, Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { StorageReadError } from './storage-read-error.js';
import { StoredFileError } from './stored-file-error.js';

export type S3ObjectRef = {
  readonly bucket: string;
  readonly key: string;
  /** The ETag the arrival event reported; null reads whatever object is there now. */
  readonly etag: string | null;
};

export type S3ObjectStream = {
  /** The object's bytes as stored (still gzip when it is), from the requested offset on. */
  readonly body: Readable;
  /** The Content-Encoding the object was stored with (`gzip` for a compressed upload), lower-cased. */
  readonly contentEncoding: string | undefined;
  /** The offset the body starts at: the requested one, or the object's size when that is past its end. */
  readonly startOffset: number;
};

/** GetObject (ranged when fromByte > 0); StoredFileError when the object is gone or was replaced. */
export async function getObjectStream(
  client: S3Client,
  object: S3ObjectRef,
  fromByte: number,
): Promise<S3ObjectStream> {
  let output: GetObjectCommandOutput;
  try {
    output = await client.send(
      new GetObjectCommand({
        Bucket: object.bucket,
        Key: object.key,
        ...(fromByte > 0 ? { Range: `bytes=${fromByte}-` } : {}),
        ...(object.etag === null ? {} : { IfMatch: quoteEtag(object.etag) }),
      }),
    );
  } catch (error) {
    const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
    // 416: the checkpoint is at the very end of the object; nothing is left to read.
    if (status === 416 && fromByte > 0)
      return { body: Readable.from([]), contentEncoding: undefined, startOffset: fromByte };
    if (status === 404) {
      throw new StoredFileError('object-missing', 'The uploaded file is no longer stored; upload it again', {
        cause: error,
      });
    }
    if (status === 412) throw objectChanged(error);
    throw new StorageReadError({ cause: error });
  }
  const body = output.Body;
  if (!isReadable(body)) throw new TypeError('GetObject returned no readable body');
  // S3 answers If-Match with 412 itself; servers that ignore the header (s3rver) are caught here.
  if (object.etag !== null && output.ETag !== undefined && output.ETag !== quoteEtag(object.etag)) {
    body.destroy();
    throw objectChanged();
  }
  return {
    body: withStorageErrors(body),
    contentEncoding: output.ContentEncoding?.trim().toLowerCase(),
    startOffset: fromByte,
  };
}

/** The body, its failures (reset, socket timeout) reported as StorageReadError to whoever reads it. */
function withStorageErrors(body: Readable): Readable {
  const output = new PassThrough();
  // Registered before pipeline's own handler, so the reader sees this error and not the raw one.
  body.once('error', (error) => output.destroy(new StorageReadError({ cause: error })));
  pipeline(body, output, () => undefined);
  return output;
}

function objectChanged(cause?: unknown): StoredFileError {
  return new StoredFileError(
    'object-changed',
    'The uploaded file was replaced after the job was queued; upload it as a new job',
    { cause },
  );
}

/** S3 sends and expects ETags in double quotes; events carry them bare. */
export function quoteEtag(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

function isReadable(value: unknown): value is Readable {
  return value instanceof Readable;
}
