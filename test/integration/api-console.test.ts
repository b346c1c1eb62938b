import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_ASSETS, CONSOLE_PAGE_HTML } from '../../lib/console/assets.generated.js';
import { buildConsole } from '../../scripts/build-console.js';
import { type Call, caller, migrate } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { httpEvent } from '../helpers/http-events.js';
import { proveSessionAccounting } from '../helpers/session-accounting.js';

let testDb: TestDatabase;
let call: Call;

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 2 });
  await migrate(testDb);
  call = caller(testDb);
});

afterAll(async () => {
  await testDb.drop();
});

proveSessionAccounting(() => testDb);

const assetNames = Object.keys(CONSOLE_ASSETS);

describe('GET / and /console', () => {
  it('serves the page with no token and no database connection', async () => {
    for (const path of ['/', '/console', '/console/']) {
      const response = await call(httpEvent('GET', path));
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe(CONSOLE_PAGE_HTML);
      expect(response.headers).toMatchObject({
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      expect(String(response.headers?.['content-security-policy'])).toMatch(
        /^default-src 'self'; script-src 'self';/,
      );
    }
    expect(await testDb.sessionCount()).toBe(0);
  });

  it("names the bucket's endpoint, and nothing else, as where the page may send uploads", async () => {
    const withBucket = caller(testDb, {
      IMPORT_BUCKET: 'console-test-imports',
      IMPORT_S3_ENDPOINT: 'http://127.0.0.1:4599',
    });
    const policy = String((await withBucket(httpEvent('GET', '/'))).headers?.['content-security-policy']);
    expect(policy).toContain("connect-src 'self' http://127.0.0.1:4599;");
    expect(policy).toContain("form-action 'self' http://127.0.0.1:4599;");
    const withoutBucket = String((await call(httpEvent('GET', '/'))).headers?.['content-security-policy']);
    expect(withoutBucket).toContain("connect-src 'self';");
  });

  it('links only hashed assets it serves, with no inline script or style', () => {
    const linked = [...CONSOLE_PAGE_HTML.matchAll(/(?:src|href)="\/console\/([^"]+)"/g)].map(
      (match) => match[1],
    );
    expect(linked.sort()).toEqual([...assetNames].sort());
    for (const name of assetNames) expect(name).toMatch(/^app\.[0-9a-f]{12}\.(js|css)$/);
    expect(CONSOLE_PAGE_HTML).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(CONSOLE_PAGE_HTML).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it('gzips for clients that accept it, and answers 304 to a matching If-None-Match', async () => {
    const zipped = await call(httpEvent('GET', '/console', { headers: { 'accept-encoding': 'gzip, br' } }));
    expect(zipped.headers).toMatchObject({ 'content-encoding': 'gzip', vary: 'Accept-Encoding, Origin' });
    expect(zipped.isBase64Encoded).toBe(true);
    expect(gunzipSync(Buffer.from(String(zipped.body), 'base64')).toString('utf8')).toBe(CONSOLE_PAGE_HTML);

    const etag = String(zipped.headers?.etag);
    const again = await call(httpEvent('GET', '/console', { headers: { 'if-none-match': etag } }));
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });
});

describe('GET /console/{asset}', () => {
  it('serves each asset with its type, immutable for a year', async () => {
    for (const name of assetNames) {
      const response = await call(httpEvent('GET', `/console/${name}`));
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe(CONSOLE_ASSETS[name]?.body);
      expect(response.headers).toMatchObject({
        'content-type': name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
        'cache-control': 'public, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
      });
    }
  });

  it('answers 404 in JSON for an unknown or inherited name, and 405 for POST', async () => {
    for (const name of ['app.000000000000.js', 'constructor', '__proto__', '..%2Fapi%2Fhealth']) {
      const response = await call(httpEvent('GET', `/console/${name}`));
      expect(response.statusCode).toBe(404);
      expect(JSON.parse(String(response.body))).toEqual({ error: 'Console asset not found' });
    }
    expect((await call(httpEvent('POST', '/console'))).statusCode).toBe(405);
  });
});

describe('the console bundle', () => {
  it('adds less than 100 KB gzipped to the API function, and the served module is the current build', async () => {
    const built = await buildConsole();
    expect(built.gzipBytes).toBeLessThan(100 * 1024);
    expect(built.html).toBe(CONSOLE_PAGE_HTML);
  });
});
