// GET /, /console and /console/<asset>: the browser console, served from strings bundled into the
// function (lib/console/assets.generated.ts, built from console/ by scripts/build-console.ts). No
// token and no database: the page's own API calls carry the token.

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { HttpError } from '../errors.js';
import type { HttpRequest, HttpResponse, Route } from '../http.js';
import { CONSOLE_ASSETS, CONSOLE_PAGE_HTML } from './assets.generated.js';
import { assetHeaders, pageHeaders } from './console-headers.js';

export type ConsoleRouteDeps = {
  /** Origins the page may POST presigned uploads to (see uploadOrigins). */
  readonly uploadOrigins: readonly string[];
};

type Served = { readonly body: string; readonly gzip: Buffer; readonly etag: string };

function prepare(body: string): Served {
  return {
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}

export function consoleRoutes<C>(deps: ConsoleRouteDeps): Route<C>[] {
  // Compressed once per execution environment, on first use.
  let page: Served | undefined;
  const assets = new Map<string, Served>();
  const servePage = async (request: HttpRequest): Promise<HttpResponse> => {
    page ??= prepare(CONSOLE_PAGE_HTML);
    return respond(request, page, pageHeaders(deps.uploadOrigins));
  };
  return [
    { method: 'GET', pattern: '/', handle: servePage },
    { method: 'GET', pattern: '/console', handle: servePage },
    {
      method: 'GET',
      pattern: '/console/{asset}',
      handle: async (request) => {
        const name = request.params.asset ?? '';
        const asset = Object.hasOwn(CONSOLE_ASSETS, name) ? CONSOLE_ASSETS[name] : undefined;
        if (asset === undefined) throw new HttpError(404, 'Console asset not found');
        let served = assets.get(name);
        if (served === undefined) {
          served = prepare(asset.body);
          assets.set(name, served);
        }
        return respond(request, served, assetHeaders(asset.contentType));
      },
    },
  ];
}

function respond(request: HttpRequest, served: Served, headers: Record<string, string>): HttpResponse {
  const common = { ...headers, etag: served.etag, vary: 'Accept-Encoding' };
  if (matchesEtag(request.headers['if-none-match'], served.etag)) {
    return { statusCode: 304, headers: common, body: '' };
  }
  // HTTP APIs do not compress responses themselves.
  if (acceptsGzip(request.headers['accept-encoding'])) {
    return {
      statusCode: 200,
      headers: { ...common, 'content-encoding': 'gzip' },
      body: served.gzip.toString('base64'),
      isBase64Encoded: true,
    };
  }
  return { statusCode: 200, headers: common, body: served.body };
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

/** True when Accept-Encoding lists gzip (or `*`) without `q=0`. */
export function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((entry) => {
    const [coding = '', ...parameters] = entry.split(';').map((part) => part.trim().toLowerCase());
    const refused = parameters.some((parameter) => /^q=0(\.0{0,3})?$/.test(parameter));
    return (coding === 'gzip' || coding === 'x-gzip' || coding === '*') && !refused;
  });
}
