// Validates what callers send to the job routes other than uploads: the batch id in the path, and the
// list query (status, limit, opaque cursor). Pure; a bad value becomes a 4xx HttpError.

import { parseQueryChoice } from '../choice.js';
import { HttpError } from '../errors.js';
import { JOB_STATUSES, type JobStatus } from './job.js';
import type { JobPosition, ListJobsQuery } from './job-repository.js';

export const DEFAULT_LIST_LIMIT = 20;
export const MAX_LIST_LIMIT = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MAX_CURSOR_CHARS = 200;

export function jobNotFound(): HttpError {
  return new HttpError(404, 'Import job not found');
}

/** The batch id of a job path, lower-cased. Anything but a UUID cannot name a job: 404, as for a missing one. */
export function parseBatchId(value: string | undefined): string {
  if (value === undefined || !UUID.test(value)) throw jobNotFound();
  return value.toLowerCase();
}

export function parseListQuery(query: Readonly<Record<string, string>>): ListJobsQuery {
  return {
    status: parseStatus(query.status),
    limit: parseLimit(query.limit),
    after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
  };
}

function parseStatus(value: string | undefined): JobStatus | undefined {
  if (value === undefined || value === '') return undefined;
  return parseQueryChoice('status', value, JOB_STATUSES);
}

function parseLimit(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_LIST_LIMIT;
  const limit = /^\d{1,3}$/.test(value) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_LIST_LIMIT)) {
    throw new HttpError(400, `limit must be a whole number from 1 to ${MAX_LIST_LIMIT}`);
  }
  return limit;
}

/** The opaque cursor: base64url of the last job's queued_at and batch_id (never the numeric id). */
export function encodeCursor(position: JobPosition): string {
  return Buffer.from(
    JSON.stringify({ q: position.queuedAt.toISOString(), b: position.batchId }),
    'utf8',
  ).toString('base64url');
}

export function decodeCursor(cursor: string): JobPosition {
  const invalid = new HttpError(400, 'Invalid cursor: pass next_cursor from the previous page unchanged');
  if (cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (typeof parsed !== 'object' || parsed === null || !('q' in parsed) || !('b' in parsed)) throw invalid;
  const { q, b } = parsed;
  if (typeof q !== 'string' || !ISO_UTC_MS.test(q) || typeof b !== 'string' || !UUID.test(b)) throw invalid;
  const queuedAt = new Date(q);
  if (Number.isNaN(queuedAt.getTime()) || queuedAt.toISOString() !== q) throw invalid;
  return { queuedAt, batchId: b.toLowerCase() };
}
