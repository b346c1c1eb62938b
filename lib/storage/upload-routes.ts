// POST /api/import/uploads: creates a job awaiting its file and answers with a presigned POST for
// S3, so a file of any size goes straight to the bucket. The API never touches the bytes, and signs
// only after its one connection has ended (no connection is held while anything but SQL runs).

import { createHash, randomUUID } from 'node:crypto';
import type { RunWithDb } from '../db.js';
import { HttpError } from '../errors.js';
import { type HttpRequest, type HttpResponse, json, type Route } from '../http.js';
import { JOBS_PATH, type RequestContext } from '../imports/job-routes.js';
import { layoutMetadata, parseJobOptions } from '../imports/upload.js';
import { type S3Credentials, withS3Client } from './s3-client.js';
import type { StorageConfig } from './storage-config.js';
import { signUploadForm, type UploadForm, uploadObjectKey } from './upload-policy.js';
import { createUploadJob, type UploadJob } from './upload-repository.js';

export const UPLOADS_PATH = '/api/import/uploads';

export type UploadRouteDeps = {
  readonly authenticate: (headers: Readonly<Record<string, string>>) => Promise<void>;
  readonly storage: StorageConfig;
  /** Local runs and tests (s3rver's fixed keys); in AWS the function role's credentials sign. */
  readonly s3Credentials?: S3Credentials | undefined;
  readonly newBatchId?: () => string;
  readonly now?: () => Date;
};

/** The 201 (and replay 200) body. `upload` is null once the job no longer waits for its file. */
export type UploadTicket = {
  readonly batch_id: string;
  readonly status: string;
  readonly upload: UploadForm | null;
  readonly expires_at: string | null;
};

export function importUploadRoutes(deps: UploadRouteDeps): Route<RequestContext>[] {
  return [
    {
      method: 'POST',
      pattern: UPLOADS_PATH,
      handle: async (request, { runWithDb }) => {
        await deps.authenticate(request.headers);
        return requestUpload(request, runWithDb, deps);
      },
    },
  ];
}

/** 201 for a new job; 200 with `Idempotent-Replayed: true` when the Idempotency-Key names an existing one. */
async function requestUpload(
  request: HttpRequest,
  runWithDb: RunWithDb,
  deps: UploadRouteDeps,
): Promise<HttpResponse> {
  const { bucket } = deps.storage;
  if (bucket === undefined) {
    throw new HttpError(501, 'Direct uploads are not enabled here; send the file to POST /api/import/jobs');
  }
  const options = parseJobOptions(request.query, request.headers);
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify([
        'upload',
        options.importType,
        options.dryRun,
        options.priority,
        options.maxRetries,
        options.filename,
        options.defaultSiteId ?? null,
        options.format ?? null,
        options.meterCode ?? null,
      ]),
    )
    .digest('hex');
  const batchId = (deps.newBatchId ?? randomUUID)();
  const result = await runWithDb((db) =>
    createUploadJob(db, {
      batchId,
      filename: options.filename,
      importType: options.importType,
      priority: options.priority,
      dryRun: options.dryRun,
      maxRetries: options.maxRetries,
      metadata: {
        ...(options.defaultSiteId === undefined ? {} : { default_site_id: options.defaultSiteId }),
        ...layoutMetadata(options),
        request_sha256: fingerprint,
      },
      idempotencyKey: options.idempotencyKeyDigest ?? null,
      bucket,
      key: uploadObjectKey(batchId, options.filename),
      uploadTtlSeconds: deps.storage.uploadUrlTtlSeconds,
    }),
  );
  if (result.outcome === 'key-in-use') {
    throw new HttpError(409, 'The job for this Idempotency-Key changed while the request ran; retry it');
  }
  const { upload } = result;
  if (result.outcome === 'existing' && upload.job.metadata?.request_sha256 !== fingerprint) {
    throw new HttpError(422, 'Idempotency-Key was already used for a different request');
  }
  const ticket = await ticketFor(upload, deps);
  const headers = { location: `${JOBS_PATH}/${upload.job.batchId}` };
  return result.outcome === 'created'
    ? json(201, ticket, headers)
    : json(200, ticket, { ...headers, 'idempotent-replayed': 'true' });
}

/** Signs a form valid until the job's upload window closes (a replay never extends it). */
async function ticketFor(upload: UploadJob, deps: UploadRouteDeps): Promise<UploadTicket> {
  const { job, bucket, key, uploadExpiresAt } = upload;
  const expiresAt = uploadExpiresAt?.toISOString() ?? null;
  const secondsLeft =
    uploadExpiresAt === null
      ? 0
      : Math.floor((uploadExpiresAt.getTime() - (deps.now?.() ?? new Date()).getTime()) / 1000);
  if (job.status !== 'awaiting_upload' || bucket === null || key === null || secondsLeft < 1) {
    return { batch_id: job.batchId, status: job.status, upload: null, expires_at: expiresAt };
  }
  const form = await withS3Client(
    deps.storage,
    (client) =>
      signUploadForm(client, {
        bucket,
        key,
        maxBytes: deps.storage.maxObjectBytes,
        expiresInSeconds: secondsLeft,
      }),
    { credentials: deps.s3Credentials },
  );
  return { batch_id: job.batchId, status: job.status, upload: form, expires_at: expiresAt };
}
