// Sends a file to the API by whichever path fits: small files in the request body of
// POST /api/import/jobs, large ones through POST /api/import/uploads and the presigned form it
// returns (straight to S3, with no token). Both report the bytes sent as they go.

import {
  ApiError,
  apiJson,
  errorFrom,
  isNotEnabled,
  isRecord,
  newIdempotencyKey,
  type Query,
  sendWithProgress,
  type UploadProgress,
  withQuery,
} from './api.js';
import { formatBytes } from './dom.js';

/**
 * Above this the file goes through the presigned flow when the API offers it: Lambda's payload
 * limit is 6 MB, and the request's headers and any base64 encoding must fit in it too.
 */
export const IN_BODY_MAX_BYTES = 4 * 1024 * 1024;

export type UploadChoice = {
  readonly file: File;
  readonly type: string;
  readonly format: string;
  readonly meter: string;
  readonly dryRun: boolean;
};

export type UploadResult = { readonly batchId: string; readonly path: 'body' | 'direct' };

export async function uploadFile(choice: UploadChoice, onProgress: UploadProgress): Promise<UploadResult> {
  if (choice.file.size === 0) throw new ApiError(400, 'The file is empty', {});
  if (choice.file.size > IN_BODY_MAX_BYTES) return uploadDirect(choice, onProgress);
  try {
    return await uploadInBody(choice, onProgress);
  } catch (error) {
    // A stage configured with a lower body limit: the direct path may still take the file; if this
    // API has none, the body's own 413 says best what went wrong.
    if (!(error instanceof ApiError && error.status === 413)) throw error;
    return uploadDirect(choice, onProgress, error);
  }
}

function uploadQuery(choice: UploadChoice): Query {
  return {
    type: choice.type,
    filename: choice.file.name,
    dry_run: choice.dryRun,
    format: choice.format.trim(),
    meter: choice.meter.trim(),
  };
}

function isGzip(file: File): boolean {
  return /\.gz$/i.test(file.name) || file.type === 'application/gzip' || file.type === 'application/x-gzip';
}

async function uploadInBody(choice: UploadChoice, onProgress: UploadProgress): Promise<UploadResult> {
  const answer = await sendWithProgress({
    url: withQuery('/api/import/jobs', uploadQuery(choice)),
    body: choice.file,
    headers: {
      'content-type': isGzip(choice.file) ? 'application/gzip' : 'text/csv',
      'idempotency-key': newIdempotencyKey(),
    },
    withToken: true,
    onProgress,
  });
  if (answer.status !== 202 && answer.status !== 200) throw errorFrom(answer.status, answer.body);
  return { batchId: batchIdOf(answer.body), path: 'body' };
}

async function uploadDirect(
  choice: UploadChoice,
  onProgress: UploadProgress,
  bodyRefusal?: ApiError,
): Promise<UploadResult> {
  let ticket: Record<string, unknown>;
  try {
    ticket = (
      await apiJson('POST', '/api/import/uploads', {
        query: uploadQuery(choice),
        headers: { 'idempotency-key': newIdempotencyKey() },
      })
    ).body;
  } catch (error) {
    if (!isNotEnabled(error)) throw error;
    if (bodyRefusal !== undefined) throw bodyRefusal;
    throw new ApiError(
      413,
      `This file is ${formatBytes(choice.file.size)}: the API takes at most ${formatBytes(IN_BODY_MAX_BYTES)} ` +
        'in one request here and offers no direct upload. Compress it with gzip or split it.',
      {},
    );
  }
  const form = ticket.upload;
  if (!isRecord(form) || typeof form.url !== 'string' || !isRecord(form.fields)) {
    throw new ApiError(502, 'The API answered without an upload form', {});
  }
  const maxBytes = typeof form.max_bytes === 'number' ? form.max_bytes : Number.POSITIVE_INFINITY;
  if (choice.file.size > maxBytes) {
    throw new ApiError(413, `The file is larger than the ${formatBytes(maxBytes)} an upload may be`, {});
  }
  const body = new FormData();
  // S3 reads the policy's fields first; the file must come last.
  for (const [name, value] of Object.entries(form.fields)) body.append(name, String(value));
  // The policy allows any Content-Type and Content-Encoding; the object is labelled like the body upload.
  body.append('Content-Type', isGzip(choice.file) ? 'application/gzip' : 'text/csv');
  if (isGzip(choice.file)) body.append('Content-Encoding', 'gzip');
  body.append('file', choice.file, choice.file.name);
  const answer = await sendWithProgress({ url: form.url, body, withToken: false, onProgress });
  if (answer.status < 200 || answer.status >= 300) {
    const reason = /<Message>([^<]{1,200})<\/Message>/.exec(answer.text)?.[1];
    throw new ApiError(
      answer.status,
      `The storage refused the upload (${answer.status}${reason === undefined ? '' : `: ${reason}`})`,
      {},
    );
  }
  return { batchId: batchIdOf(ticket), path: 'direct' };
}

function batchIdOf(body: Record<string, unknown>): string {
  if (typeof body.batch_id !== 'string') throw new ApiError(502, 'The API answered without a batch id', {});
  return body.batch_id;
}
