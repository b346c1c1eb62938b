// The console's response headers: a strict Content-Security-Policy (nothing inline, nothing from
// another origin but the upload storage), no sniffing, no referrer, no framing, and the caching rule
// (the page is revalidated, content-hashed assets are immutable). Pure.

/** Where the browser may POST a presigned upload: the storage's origin(s). */
export type UploadStorage = {
  readonly bucket: string | undefined;
  readonly region: string;
  /** A local S3-compatible endpoint (s3rver); undefined in AWS. */
  readonly endpoint: string | undefined;
};

/**
 * The origins a presigned POST can target: the local endpoint when one is set; in AWS the bucket's
 * virtual-hosted origin, and the regional path-style one (used for bucket names with dots).
 */
export function uploadOrigins(storage: UploadStorage): string[] {
  if (storage.bucket === undefined) return [];
  if (storage.endpoint !== undefined) return [new URL(storage.endpoint).origin];
  if (!/^[a-z0-9-]{1,30}$/.test(storage.region)) return [];
  const regional = `https://s3.${storage.region}.amazonaws.com`;
  return storage.bucket.includes('.')
    ? [regional]
    : [`https://${storage.bucket}.s3.${storage.region}.amazonaws.com`, regional];
}

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;

export function contentSecurityPolicy(allowedUploadOrigins: readonly string[]): string {
  // An origin that is not a plain scheme://host[:port] could smuggle a directive: never emit it.
  const upload = allowedUploadOrigins.filter((origin) => ORIGIN.test(origin));
  const withUploads = ["'self'", ...upload].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${withUploads}`,
    `form-action ${withUploads}`,
    "base-uri 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const COMMON = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function pageHeaders(allowedUploadOrigins: readonly string[]): Record<string, string> {
  return {
    ...COMMON,
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': contentSecurityPolicy(allowedUploadOrigins),
    // The page names the current assets, so it must never be served stale.
    'cache-control': 'no-cache',
  };
}

export function assetHeaders(contentType: string): Record<string, string> {
  return {
    ...COMMON,
    'content-type': contentType,
    // The name carries the content's hash: a changed asset is a new URL.
    'cache-control': 'public, max-age=31536000, immutable',
  };
}
