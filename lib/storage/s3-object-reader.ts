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
import { offsetPastEnd, StoredFileError } from './stored-file-error.js';

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
    output = await pinnedGet(client, object, fromByte > 0 ? `bytes=${fromByte}-` : undefined);
  } catch (error) {
    // 416: the offset is at or past the end of the stored bytes; what that means needs the object's own
    // size and encoding (a gzip-encoded object's stored bytes end long before its file's).
    if (statusOf(error) === 416 && fromByte > 0) return atOrPastEnd(client, object, fromByte);
    throw readFailure(error);
  }
  return {
    body: withStorageErrors(bodyOf(output)),
    contentEncoding: encodingOf(output),
    startOffset: fromByte,
  };
}

/**
 * After a 416: the object's size and Content-Encoding from its first byte (pinned like any read). At
 * the end of a plain object nothing is left; past it, the checkpoint is not this object's; a gzip
 * object is reported as such, for the caller to decompress and skip.
 */
async function atOrPastEnd(client: S3Client, object: S3ObjectRef, fromByte: number): Promise<S3ObjectStream> {
  let size = 0;
  let contentEncoding: string | undefined;
  try {
    const first = await pinnedGet(client, object, 'bytes=0-0');
    bodyOf(first).destroy();
    contentEncoding = encodingOf(first);
    // "bytes 0-0/<size>"; without it, no claim that the offset is past the end.
    size = Number(/\/(\d+)$/.exec(first.ContentRange ?? '')?.[1] ?? Number.POSITIVE_INFINITY);
  } catch (error) {
    // An empty object answers even its first byte with 416: any offset is past its end.
    if (statusOf(error) !== 416) throw readFailure(error);
  }
  if (contentEncoding !== 'gzip' && fromByte > size) throw offsetPastEnd(fromByte);
  return { body: Readable.from([]), contentEncoding, startOffset: fromByte };
}

/** GetObject pinned to the recorded ETag, the pin also checked for servers that ignore If-Match. */
async function pinnedGet(
  client: S3Client,
  object: S3ObjectRef,
  range: string | undefined,
): Promise<GetObjectCommandOutput> {
  const output = await client.send(
    new GetObjectCommand({
      Bucket: object.bucket,
      Key: object.key,
      ...(range === undefined ? {} : { Range: range }),
      ...(object.etag === null ? {} : { IfMatch: quoteEtag(object.etag) }),
    }),
  );
  // S3 answers If-Match with 412 itself; servers that ignore the header (s3rver) are caught here.
  if (object.etag !== null && output.ETag !== undefined && output.ETag !== quoteEtag(object.etag)) {
    bodyOf(output).destroy();
    throw objectChanged();
  }
  return output;
}

function bodyOf(output: GetObjectCommandOutput): Readable {
  const body = output.Body;
  if (!isReadable(body)) throw new TypeError('GetObject returned no readable body');
  return body;
}

function encodingOf(output: GetObjectCommandOutput): string | undefined {
  return output.ContentEncoding?.trim().toLowerCase();
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

/** A failed GetObject as the processor must see it: the file's fault, or storage's (retried). */
function readFailure(error: unknown): Error {
  if (error instanceof StoredFileError) return error;
  if (statusOf(error) === 404) {
    return new StoredFileError('object-missing', 'The uploaded file is no longer stored; upload it again', {
      cause: error,
    });
  }
  if (statusOf(error) === 412) return objectChanged(error);
  return new StorageReadError({ cause: error });
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
