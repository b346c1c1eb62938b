// SQL for the import queue's numbers as the monitor reads them: from its own connection, which has no
// default schema, so the app's schema is named explicitly (validated, then quoted).

import type { RowDataPacket } from 'mysql2/promise';
import type { Db } from '../db.js';
import { AppError } from '../errors.js';
import { STUCK_AFTER_MINUTES } from '../imports/job-repository.js';

export type ImportQueueCounts = {
  readonly queued: number;
  readonly processing: number;
  /** Processing with an expired lease, or started more than STUCK_AFTER_MINUTES ago. */
  readonly stuck: number;
  readonly failedLast24h: number;
  /** Completed or failed in the last 24 h. */
  readonly finishedLast24h: number;
};

const SCHEMA_NAME = /^[A-Za-z0-9_]{1,64}$/;

export async function readImportQueueCounts(db: Db, schema: string): Promise<ImportQueueCounts> {
  // An identifier cannot be a placeholder: the schema comes from DB_NAME and must match SCHEMA_NAME.
  if (!SCHEMA_NAME.test(schema)) throw new AppError('The import schema name is not a plain identifier');
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT
       COALESCE(SUM(status = 'queued'), 0) AS queued,
       COALESCE(SUM(status = 'processing'), 0) AS processing,
       COALESCE(SUM(status = 'processing' AND (lease_expires_at < NOW(3)
         OR started_at < NOW(3) - INTERVAL ? MINUTE)), 0) AS stuck,
       COALESCE(SUM(status = 'failed' AND completed_at >= NOW(3) - INTERVAL 24 HOUR), 0) AS failed_24h,
       COALESCE(SUM(status IN ('completed', 'failed') AND completed_at >= NOW(3) - INTERVAL 24 HOUR), 0)
         AS finished_24h
     FROM \`${schema}\`.import_jobs
     WHERE status IN ('queued', 'processing') OR completed_at >= NOW(3) - INTERVAL 24 HOUR`,
    [STUCK_AFTER_MINUTES],
  );
  const row = rows[0];
  return {
    queued: Number(row?.queued ?? 0),
    processing: Number(row?.processing ?? 0),
    stuck: Number(row?.stuck ?? 0),
    failedLast24h: Number(row?.failed_24h ?? 0),
    finishedLast24h: Number(row?.finished_24h ?? 0),
  };
}
