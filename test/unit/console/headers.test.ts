import { describe, expect, it } from 'vitest';
import {
  assetHeaders,
  contentSecurityPolicy,
  pageHeaders,
  uploadOrigins,
} from '../../../lib/console/console-headers.js';
import { acceptsGzip } from '../../../lib/console/console-routes.js';

describe('uploadOrigins', () => {
  it('is empty when direct uploads are off (no bucket)', () => {
    expect(
      uploadOrigins({ bucket: undefined, region: 'eu-west-2', endpoint: 'http://localhost:4569' }),
    ).toEqual([]);
  });

  it("is the local endpoint's origin when one is set", () => {
    expect(
      uploadOrigins({ bucket: 'imports', region: 'eu-west-2', endpoint: 'http://localhost:4569' }),
    ).toEqual(['http://localhost:4569']);
  });

  it("is the bucket's virtual-hosted origin and the regional one in AWS", () => {
    expect(uploadOrigins({ bucket: 'eclectyc-imports', region: 'eu-west-2', endpoint: undefined })).toEqual([
      'https://eclectyc-imports.s3.eu-west-2.amazonaws.com',
      'https://s3.eu-west-2.amazonaws.com',
    ]);
  });

  it('is only the regional origin for a bucket name with dots (path-style URLs)', () => {
    expect(
      uploadOrigins({ bucket: 'imports.example.com', region: 'eu-west-2', endpoint: undefined }),
    ).toEqual(['https://s3.eu-west-2.amazonaws.com']);
  });
});

describe('contentSecurityPolicy', () => {
  it('allows only this origin for scripts, styles and connections, and forbids framing and plugins', () => {
    expect(contentSecurityPolicy([])).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
    );
  });

  it('adds the upload origins to connect-src and form-action only', () => {
    const policy = contentSecurityPolicy(['https://b.s3.eu-west-2.amazonaws.com']);
    expect(policy).toContain("connect-src 'self' https://b.s3.eu-west-2.amazonaws.com;");
    expect(policy).toContain("form-action 'self' https://b.s3.eu-west-2.amazonaws.com;");
    expect(policy).toContain("script-src 'self';");
  });

  it('never emits an origin that could smuggle a directive', () => {
    const policy = contentSecurityPolicy([
      "https://ok.example; script-src 'unsafe-inline'",
      'https://*',
      'data:',
    ]);
    expect(policy).not.toContain('unsafe-inline');
    expect(policy).toContain("connect-src 'self';");
  });
});

describe('console headers', () => {
  it('serve the page uncached-without-revalidation, with the CSP, nosniff and no referrer', () => {
    expect(pageHeaders([])).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    });
  });

  it('serve hashed assets as immutable for a year', () => {
    expect(assetHeaders('text/css; charset=utf-8')).toMatchObject({
      'content-type': 'text/css; charset=utf-8',
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    });
  });
});

describe('acceptsGzip', () => {
  it('reads Accept-Encoding as browsers and proxies send it', () => {
    expect(acceptsGzip('gzip, deflate, br, zstd')).toBe(true);
    expect(acceptsGzip('br;q=1.0, gzip;q=0.8')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip;q=0.000, identity')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
  });
});
