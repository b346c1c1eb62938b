// Stores an uploaded file gzip-compressed in consecutive chunks, and streams it back one chunk per
// query, so neither the API nor the processor ever needs the whole decompressed file in memory.

import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Db } from '../db.js';

/** Well under the default max_allowed_packet (16 MB on MariaDB, 64 MB on MySQL 8). */
export const FILE_CHUNK_BYTES = 512 * 1024;

/** Room in a bounded statement for its SQL text and ids around the chunk's X'<hex>' (2 bytes a byte). */
const CHUNK_STATEMENT_OVERHEAD_BYTES = 256;

/**
 * Chunks of FILE_CHUNK_BYTES; where statements are bounded (behind RDS Proxy: over 16 KB pins the
 * session) each INSERT stays under the bound, so the file takes more, smaller chunks.
 */
export async function storeFileChunks(db: Db, jobId: number, gzipped: Buffer): Promise<number> {
  const chunkBytes =
    db.maxStatementBytes === undefined
      ? FILE_CHUNK_BYTES
      : Math.floor((db.maxStatementBytes - CHUNK_STATEMENT_OVERHEAD_BYTES) / 2);
  let chunkNo = 0;
  for (let offset = 0; offset < gzipped.length || chunkNo === 0; offset += chunkBytes) {
    await db.query<ResultSetHeader>(
      'INSERT INTO import_file_chunks (job_id, chunk_no, data) VALUES (?, ?, ?)',
      [jobId, chunkNo, gzipped.subarray(offset, offset + chunkBytes)],
    );
    chunkNo++;
  }
  return chunkNo;
}

/** The stored gzip bytes, one chunk per query. */
export async function* readFileChunks(db: Db, jobId: number): AsyncGenerator<Buffer> {
  for (let chunkNo = 0; ; chunkNo++) {
    const [rows] = await db.query<RowDataPacket[]>(
      'SELECT data FROM import_file_chunks WHERE job_id = ? AND chunk_no = ?',
      [jobId, chunkNo],
    );
    const data: unknown = rows[0]?.data;
    if (!Buffer.isBuffer(data)) return;
    yield data;
  }
}

/** The stored file decompressed, as a stream of Buffers. */
export function openStoredFile(db: Db, jobId: number): Readable {
  const gunzip = createGunzip();
  // pipeline (not pipe) so a failed chunk query or corrupt gzip reaches the reader as an error.
  pipeline(Readable.from(readFileChunks(db, jobId)), gunzip, () => undefined);
  return gunzip;
}
