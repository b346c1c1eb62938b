// Opens an import job's file wherever its bytes live (the database chunk store, or an S3 object) as
// one decompressed byte stream starting at a given offset: the processor's one way in, for a fresh
// start (offset 0) and for a resume from a checkpoint. See docs/design.md#resuming-a-streamed-upload.

import { PassThrough, pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Db } from '../db.js';
import { openStoredFile } from '../imports/file-store.js';
import { getObjectStream, type S3ObjectRef } from './s3-object-reader.js';
import { skipBytes } from './skip-bytes.js';
import { StoredFileError } from './stored-file-error.js';

export type JobFileLocation =
  | { readonly kind: 'database'; readonly jobId: number }
  | ({ readonly kind: 's3' } & S3ObjectRef);

/**
 * How the stream reached the offset: 'start' (offset 0), 'range' (a ranged GetObject: nothing before
 * the offset is read), or 'skip' (everything before it is read again and dropped: gzip objects and the
 * database store, whose compressed bytes cannot be entered mid-stream).
 */
export type SeekMethod = 'start' | 'range' | 'skip';

export type OpenedJobFile = {
  /** The file's decompressed bytes from the requested offset on. Destroy it to stop early. */
  readonly stream: Readable;
  readonly seek: SeekMethod;
};

export type JobFileSources = {
  readonly db: Db;
  /** Needed only for S3 locations; the caller creates it per invocation and destroys it after. */
  readonly s3: S3Client | undefined;
};

/** The object is gzip when its name says so or it was stored with Content-Encoding: gzip. */
export function isGzipName(key: string): boolean {
  return /\.gz$/i.test(key);
}

export async function openJobFile(
  sources: JobFileSources,
  location: JobFileLocation,
  fromByte: number,
): Promise<OpenedJobFile> {
  if (!Number.isSafeInteger(fromByte) || fromByte < 0) throw new RangeError(`bad byte offset ${fromByte}`);
  if (location.kind === 'database') {
    const stream = openStoredFile(sources.db, location.jobId);
    return fromByte === 0 ? { stream, seek: 'start' } : { stream: skipped(stream, fromByte), seek: 'skip' };
  }
  if (sources.s3 === undefined) throw new TypeError('an S3 client is needed to read an S3 upload');
  const s3 = sources.s3;
  if (isGzipName(location.key)) return openGzipObject(s3, location, fromByte);
  const object = await getObjectStream(s3, location, fromByte);
  if (object.contentEncoding === 'gzip') {
    // Stored with Content-Encoding: gzip under a plain name: a range of it is not a range of the file.
    if (fromByte > 0) {
      object.body.destroy();
      return openGzipObject(s3, location, fromByte);
    }
    return { stream: gunzipped(object.body), seek: 'start' };
  }
  return { stream: object.body, seek: fromByte === 0 ? 'start' : 'range' };
}

async function openGzipObject(s3: S3Client, location: S3ObjectRef, fromByte: number): Promise<OpenedJobFile> {
  const object = await getObjectStream(s3, location, 0);
  const stream = gunzipped(object.body);
  return fromByte === 0 ? { stream, seek: 'start' } : { stream: skipped(stream, fromByte), seek: 'skip' };
}

function gunzipped(body: Readable): Readable {
  const gunzip = createGunzip();
  const output = new PassThrough();
  // Registered before pipeline's own handler, so the consumer sees this error and not zlib's: a
  // corrupt upload is the file's fault ("incorrect header check" would read like ours).
  gunzip.once('error', (error) => {
    output.destroy(
      new StoredFileError('invalid-gzip', 'The uploaded file is not valid gzip data', { cause: error }),
    );
  });
  pipeline(body, gunzip, output, () => undefined);
  return output;
}

function skipped(stream: Readable, count: number): Readable {
  const skipper = skipBytes(count);
  pipeline(stream, skipper, () => undefined);
  return skipper;
}
