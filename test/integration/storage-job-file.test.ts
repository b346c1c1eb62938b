// Opening a job's file from a byte offset, against a real s3rver: ranged reads of plain objects,
// re-read-and-skip for gzip ones, the ETag pin, and the same bytes from the database chunk store.

import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { ResultSetHeader } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../lib/db.js';
import { readCsvRecordBatches } from '../../lib/imports/csv-reader.js';
import { storeFileChunks } from '../../lib/imports/file-store.js';
import { type JobFileLocation, openJobFile } from '../../lib/storage/job-file.js';
import { StoredFileError } from '../../lib/storage/stored-file-error.js';
import { migrate } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';

const FILE =
  'MPAN,Date,Reading\nE1,01/01/2024,1.5\nE2,02/01/2024,2\r\nE3,03/01/2024,"Café, 3"\nE4,04/01/2024,4\n';

let s3: TestS3;
let testDb: TestDatabase;

beforeAll(async () => {
  [s3, testDb] = await Promise.all([startTestS3(), createTestDatabase()]);
  await migrate(testDb);
});

afterAll(async () => {
  await Promise.all([s3.stop(), testDb.drop()]);
});

async function put(key: string, body: Buffer | string, contentEncoding?: string): Promise<string> {
  const output = await s3.client.send(
    new PutObjectCommand({
      Bucket: s3.bucket,
      Key: key,
      Body: body,
      ...(contentEncoding === undefined ? {} : { ContentEncoding: contentEncoding }),
    }),
  );
  return String(output.ETag).replaceAll('"', '');
}

async function readFrom(location: JobFileLocation, fromByte: number) {
  return withConnection(testDb.config().db, async (db) => {
    const opened = await openJobFile({ db, s3: s3.client }, location, fromByte);
    return { seek: opened.seek, text: await text(opened.stream) };
  });
}

/** Every record's end offset, read from the start: the places a checkpoint can resume from. */
async function recordEnds(): Promise<number[]> {
  const ends: number[] = [];
  for await (const batch of readCsvRecordBatches(Readable.from([Buffer.from(FILE)]))) {
    for (const record of batch) ends.push(record.endOffset);
  }
  return ends;
}

describe('openJobFile', () => {
  it('reads a plain S3 object from the start, and from each record end with a ranged GetObject', async () => {
    const etag = await put('imports/a/plain.csv', FILE);
    const location: JobFileLocation = { kind: 's3', bucket: s3.bucket, key: 'imports/a/plain.csv', etag };
    expect(await readFrom(location, 0)).toEqual({ seek: 'start', text: FILE });
    for (const offset of await recordEnds()) {
      const expected = Buffer.from(FILE).subarray(offset).toString('utf8');
      // The last record ends at the object's end: S3 answers that range with 416, read as empty.
      expect({ offset, ...(await readFrom(location, offset)) }).toEqual({
        offset,
        seek: 'range',
        text: expected,
      });
    }
  });

  it('gunzips a .gz object and reaches an offset by re-reading and skipping', async () => {
    const etag = await put('imports/b/file.csv.gz', gzipSync(FILE));
    const location: JobFileLocation = { kind: 's3', bucket: s3.bucket, key: 'imports/b/file.csv.gz', etag };
    expect(await readFrom(location, 0)).toEqual({ seek: 'start', text: FILE });
    const [, second = 0] = await recordEnds();
    expect(await readFrom(location, second)).toEqual({
      seek: 'skip',
      text: Buffer.from(FILE).subarray(second).toString('utf8'),
    });
  });

  it('gunzips an object stored with Content-Encoding: gzip under a plain name, also when resuming', async () => {
    const etag = await put('imports/c/encoded.csv', gzipSync(FILE), 'gzip');
    const location: JobFileLocation = { kind: 's3', bucket: s3.bucket, key: 'imports/c/encoded.csv', etag };
    expect(await readFrom(location, 0)).toEqual({ seek: 'start', text: FILE });
    const [first = 0] = await recordEnds();
    expect(await readFrom(location, first)).toEqual({
      seek: 'skip',
      text: Buffer.from(FILE).subarray(first).toString('utf8'),
    });
  });

  it('resumes a Content-Encoding: gzip object past its compressed size, not as an empty rest', async () => {
    // Compressible rows: the checkpoint's offset (in the file's bytes) lies beyond the stored bytes'
    // end, where a ranged GetObject answers 416, which must not read as "nothing left to import".
    const rows = Array.from({ length: 400 }, (_, i) => `E${i},01/01/2024,${i}.5\n`).join('');
    const file = `MPAN,Date,Reading\n${rows}`;
    const stored = gzipSync(file);
    const offset = file.lastIndexOf('E300,');
    expect(offset).toBeGreaterThan(stored.length);
    const etag = await put('imports/c/big-encoded.csv', stored, 'gzip');
    const location: JobFileLocation = {
      kind: 's3',
      bucket: s3.bucket,
      key: 'imports/c/big-encoded.csv',
      etag,
    };
    expect(await readFrom(location, offset)).toEqual({ seek: 'skip', text: file.slice(offset) });
  });

  it('fails a resume whose offset is past the end of the file instead of reading nothing', async () => {
    const plainEtag = await put('imports/g/short.csv', FILE);
    const plain: JobFileLocation = {
      kind: 's3',
      bucket: s3.bucket,
      key: 'imports/g/short.csv',
      etag: plainEtag,
    };
    const size = Buffer.byteLength(FILE);
    // At the very end: nothing left, which is fine; one byte past it: the checkpoint is not this file's.
    expect(await readFrom(plain, size)).toEqual({ seek: 'range', text: '' });
    const ranged = await readFrom(plain, size + 1).catch((caught: unknown) => caught);
    expect(ranged instanceof StoredFileError ? ranged.code : ranged).toBe('offset-past-end');
    const gzEtag = await put('imports/g/short.csv.gz', gzipSync(FILE));
    const gz: JobFileLocation = {
      kind: 's3',
      bucket: s3.bucket,
      key: 'imports/g/short.csv.gz',
      etag: gzEtag,
    };
    expect(await readFrom(gz, size)).toEqual({ seek: 'skip', text: '' });
    const skipped = await readFrom(gz, size + 1).catch((caught: unknown) => caught);
    expect(skipped instanceof StoredFileError ? skipped.code : skipped).toBe('offset-past-end');
  });

  it('refuses to continue in an object replaced after its ETag was recorded', async () => {
    const etag = await put('imports/d/replaced.csv', FILE);
    await put('imports/d/replaced.csv', FILE.replace('1.5', '9.5'));
    const location: JobFileLocation = { kind: 's3', bucket: s3.bucket, key: 'imports/d/replaced.csv', etag };
    const error = await readFrom(location, 18).catch((caught: unknown) => caught);
    expect(error instanceof StoredFileError ? error.code : error).toBe('object-changed');
  });

  it('fails with object-missing when the object is gone', async () => {
    const location: JobFileLocation = {
      kind: 's3',
      bucket: s3.bucket,
      key: 'imports/e/none.csv',
      etag: null,
    };
    const error = await readFrom(location, 0).catch((caught: unknown) => caught);
    expect(error instanceof StoredFileError ? error.code : error).toBe('object-missing');
  });

  it('fails a corrupt gzip upload with invalid-gzip, not zlib’s message', async () => {
    const etag = await put('imports/f/broken.csv.gz', Buffer.from('not gzip at all\n'));
    const location: JobFileLocation = { kind: 's3', bucket: s3.bucket, key: 'imports/f/broken.csv.gz', etag };
    const error = await readFrom(location, 0).catch((caught: unknown) => caught);
    expect(error instanceof StoredFileError ? error.code : error).toBe('invalid-gzip');
  });

  it('reads the database chunk store from an offset by skipping, with the same bytes as S3', async () => {
    const [row] = await testDb.admin.query<ResultSetHeader>(
      `INSERT INTO \`${testDb.name}\`.import_jobs (batch_id, filename, import_type) VALUES (UUID(), 'f.csv', 'daily')`,
    );
    await withConnection(testDb.config().db, (db) => storeFileChunks(db, row.insertId, gzipSync(FILE)));
    const location: JobFileLocation = { kind: 'database', jobId: row.insertId };
    const [, , third = 0] = await recordEnds();
    expect(await readFrom(location, 0)).toEqual({ seek: 'start', text: FILE });
    expect(await readFrom(location, third)).toEqual({
      seek: 'skip',
      text: Buffer.from(FILE).subarray(third).toString('utf8'),
    });
  });
});
