// The import job routes of the HTTP API: upload, list, show, cancel, retry. Each authenticates first
// (so a 401 never costs a connection), validates, then runs its work over exactly one connection.

import { randomUUID } from 'node:crypto';
import type { Db, RunWithDb } from '../db.js';
import { HttpError } from '../errors.js';
import { type HttpRequest, type HttpResponse, json, type Route, type RouteHandler } from '../http.js';
import {
  type CreateJobResult,
  cancelJob,
  createJob,
  findJobByBatchId,
  findJobByIdempotencyKey,
  type JobTransition,
  listJobs,
  retryJob,
} from './job-repository.js';
import { encodeCursor, jobNotFound, parseBatchId, parseListQuery } from './job-requests.js';
import { toJobView } from './job-view.js';
import { layoutMetadata, parseUpload, type UploadLimits, type UploadRequest } from './upload.js';

export type JobRouteDeps = {
  readonly authenticate: (headers: Readonly<Record<string, string>>) => Promise<void>;
  readonly limits: UploadLimits;
  readonly newBatchId?: () => string;
};

/** What each request brings: withConnection bound to that invocation. */
export type RequestContext = { readonly runWithDb: RunWithDb };

export const JOBS_PATH = '/api/import/jobs';

export function importJobRoutes(deps: JobRouteDeps): Route<RequestContext>[] {
  const authed =
    (handle: RouteHandler<RequestContext>): RouteHandler<RequestContext> =>
    async (request, context) => {
      await deps.authenticate(request.headers);
      return handle(request, context);
    };
  return [
    {
      method: 'POST',
      pattern: JOBS_PATH,
      handle: authed((request, { runWithDb }) => submitJob(request, runWithDb, deps)),
    },
    {
      method: 'GET',
      pattern: JOBS_PATH,
      handle: authed((request, { runWithDb }) => listJobPage(request, runWithDb)),
    },
    {
      method: 'GET',
      pattern: `${JOBS_PATH}/{batchId}`,
      handle: authed((request, { runWithDb }) => showJob(request, runWithDb)),
    },
    {
      method: 'POST',
      pattern: `${JOBS_PATH}/{batchId}/cancel`,
      handle: authed((request, { runWithDb }) => transition(request, runWithDb, 'cancel')),
    },
    {
      method: 'POST',
      pattern: `${JOBS_PATH}/{batchId}/retry`,
      handle: authed((request, { runWithDb }) => transition(request, runWithDb, 'retry')),
    },
  ];
}

/** 202 for a new job; 200 (and `Idempotent-Replayed: true`) when the Idempotency-Key names an existing one. */
async function submitJob(
  request: HttpRequest,
  runWithDb: RunWithDb,
  deps: JobRouteDeps,
): Promise<HttpResponse> {
  const upload = await parseUpload(request, deps.limits);
  const batchId = (deps.newBatchId ?? randomUUID)();
  const result = await runWithDb((db) => createOrReplay(db, upload, batchId));
  if (result.outcome === 'key-in-use') {
    throw new HttpError(409, 'The job for this Idempotency-Key changed while the request ran; retry it');
  }
  const { job } = result;
  const headers = { location: `${JOBS_PATH}/${job.batchId}` };
  if (result.outcome === 'created') return json(202, toJobView(job), headers);
  if (job.metadata?.request_sha256 !== upload.fingerprint) {
    throw new HttpError(422, 'Idempotency-Key was already used for a different upload');
  }
  return json(200, toJobView(job), { ...headers, 'idempotent-replayed': 'true' });
}

async function createOrReplay(db: Db, upload: UploadRequest, batchId: string): Promise<CreateJobResult> {
  const key = upload.idempotencyKeyDigest;
  if (key !== undefined) {
    const existing = await findJobByIdempotencyKey(db, key);
    if (existing !== null) return { outcome: 'existing', job: existing };
  }
  return createJob(db, {
    batchId,
    filename: upload.filename,
    importType: upload.importType,
    priority: upload.priority,
    dryRun: upload.dryRun,
    maxRetries: upload.maxRetries,
    totalRows: upload.totalRows,
    metadata: {
      ...(upload.defaultSiteId === undefined ? {} : { default_site_id: upload.defaultSiteId }),
      ...layoutMetadata(upload),
      request_sha256: upload.fingerprint,
    },
    idempotencyKey: key ?? null,
    gzippedFile: upload.gzippedFile,
  });
}

async function listJobPage(request: HttpRequest, runWithDb: RunWithDb): Promise<HttpResponse> {
  const query = parseListQuery(request.query);
  const rows = await runWithDb((db) => listJobs(db, query));
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  const nextCursor =
    rows.length > query.limit && last !== undefined
      ? encodeCursor({ queuedAt: last.queuedAt, batchId: last.batchId })
      : null;
  return json(200, { jobs: page.map(toJobView), count: page.length, next_cursor: nextCursor });
}

async function showJob(request: HttpRequest, runWithDb: RunWithDb): Promise<HttpResponse> {
  const batchId = parseBatchId(request.params.batchId);
  const job = await runWithDb((db) => findJobByBatchId(db, batchId));
  if (job === null) throw jobNotFound();
  return json(200, toJobView(job));
}

async function transition(
  request: HttpRequest,
  runWithDb: RunWithDb,
  action: 'cancel' | 'retry',
): Promise<HttpResponse> {
  const batchId = parseBatchId(request.params.batchId);
  const result: JobTransition = await runWithDb((db) =>
    action === 'cancel' ? cancelJob(db, batchId) : retryJob(db, batchId),
  );
  if (result.outcome === 'not-found') throw jobNotFound();
  if (result.outcome === 'done') return json(200, toJobView(result.job));
  const { status } = result.job;
  if (action === 'retry' && (status === 'failed' || status === 'cancelled') && !result.fileStored) {
    throw new HttpError(409, 'The uploaded file is no longer stored; upload it again', { status });
  }
  throw new HttpError(409, `Cannot ${action} a job that is ${status}`, { status });
}
