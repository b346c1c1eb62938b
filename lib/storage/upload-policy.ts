// The presigned POST a client uploads its file with: S3 itself enforces the exact key, the size range
// and the expiry, so the API never touches the bytes. Signing is local computation (no network call).

import type { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';

export const UPLOAD_KEY_PREFIX = 'imports/';
const MAX_OBJECT_NAME_CHARS = 200;

export type UploadForm = {
  /** Where the client POSTs its multipart form. */
  readonly url: string;
  /** Form fields to send, in this order, before the `file` field. */
  readonly fields: Readonly<Record<string, string>>;
  readonly max_bytes: number;
};

/**
 * `imports/<batch id>/<name>`: the filename reduced to letters, digits, `.`, `_` and `-` (others become
 * `_`), so keys need no URL encoding in events and compare exactly; `upload.csv` when nothing is left.
 */
export function uploadObjectKey(batchId: string, filename: string): string {
  let name = filename
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(-MAX_OBJECT_NAME_CHARS);
  if (/^[._]*$/.test(name)) name = 'upload.csv';
  return `${UPLOAD_KEY_PREFIX}${batchId}/${name}`;
}

export async function signUploadForm(
  client: S3Client,
  target: {
    readonly bucket: string;
    readonly key: string;
    readonly maxBytes: number;
    readonly expiresInSeconds: number;
  },
): Promise<UploadForm> {
  const post = await createPresignedPost(client, {
    Bucket: target.bucket,
    Key: target.key,
    Expires: target.expiresInSeconds,
    Conditions: [
      ['content-length-range', 1, target.maxBytes],
      // The client may label the object (a gzip upload: Content-Encoding: gzip); nothing else.
      ['starts-with', '$Content-Type', ''],
      ['starts-with', '$Content-Encoding', ''],
    ],
  });
  return { url: post.url, fields: post.fields, max_bytes: target.maxBytes };
}
