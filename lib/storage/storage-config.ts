// The S3 side of imports, read from the environment at cold start: the bucket, an optional local
// endpoint (s3rver), and the limits of a presigned upload. Read only through loadConfig.

import { ConfigError } from '../errors.js';

type Env = Readonly<Record<string, string | undefined>>;

export type StorageConfig = {
  /** The imports bucket; undefined: direct uploads are off on this stage (the route answers 501). */
  readonly bucket: string | undefined;
  readonly region: string;
  /**
   * A local S3-compatible endpoint (s3rver); undefined in AWS. When set, requests use path-style URLs
   * and send checksums only when an operation requires them, which such servers need.
   */
  readonly endpoint: string | undefined;
  /** content-length-range of the presigned POST: S3 refuses a bigger object. */
  readonly maxObjectBytes: number;
  /** Lifetime of the presigned POST policy. */
  readonly uploadUrlTtlSeconds: number;
  /** An upload not arrived this long after its URL expired marks the job expired (daily purge). */
  readonly uploadExpiryMarginSeconds: number;
};

/** A single S3 POST can carry at most 5 GiB. */
export const MAX_POST_OBJECT_BYTES = 5 * 1024 * 1024 * 1024;
/** S3 bucket names: 3–63 lower-case letters, digits, dots and hyphens. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function loadStorageConfig(env: Env): StorageConfig {
  const bucket = readOptional(env, 'IMPORT_BUCKET');
  if (bucket !== undefined && !BUCKET_NAME.test(bucket)) {
    throw new ConfigError('IMPORT_BUCKET', `"${bucket.slice(0, 70)}" is not a valid S3 bucket name`);
  }
  const endpoint = readOptional(env, 'IMPORT_S3_ENDPOINT');
  if (endpoint !== undefined && !/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/.test(endpoint)) {
    throw new ConfigError('IMPORT_S3_ENDPOINT', 'must be a URL like http://localhost:4569 (no path)');
  }
  return Object.freeze({
    bucket,
    region: readString(env, 'AWS_REGION', 'eu-west-2'),
    endpoint: endpoint?.replace(/\/$/, ''),
    maxObjectBytes: readInt(env, 'IMPORT_MAX_OBJECT_BYTES', MAX_POST_OBJECT_BYTES, 1, MAX_POST_OBJECT_BYTES),
    uploadUrlTtlSeconds: readInt(env, 'IMPORT_UPLOAD_URL_TTL_S', 900, 60, 7 * 86_400),
    uploadExpiryMarginSeconds: readInt(env, 'IMPORT_UPLOAD_EXPIRY_MARGIN_S', 3600, 0, 7 * 86_400),
  });
}

// The same rules as lib/config.ts's readers (kept here so config.ts and this module do not import
// each other).
function readOptional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function readString(env: Env, name: string, fallback: string): string {
  return readOptional(env, name) ?? fallback;
}

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = readOptional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw.slice(0, 20)}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}
