import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createAuthenticator } from '../lib/auth.js';
import { type Config, loadConfig } from '../lib/config.js';
import { consoleRoutes } from '../lib/console/console-routes.js';
import { type RunWithDb, withConnection } from '../lib/db.js';
import { healthResponse } from '../lib/health/report.js';
import { createRouter, errorResponse, type HttpResponse, parseRequest, withCors } from '../lib/http.js';
import { importJobRoutes, type RequestContext } from '../lib/imports/job-routes.js';
import { logger } from '../lib/logger.js';
import { type SecretCache, sharedSecretCache } from '../lib/secrets.js';

export function createApiHandler(config: Config, options: { secrets?: SecretCache } = {}) {
  // The cache holds the token hashes across invocations; the connection is opened per request below.
  const authenticator = createAuthenticator(
    config.api,
    options.secrets ?? sharedSecretCache(config.db.secretCacheTtlMs),
  );
  if (!authenticator.configured) {
    logger.warn('no API token configured: every route but GET /api/health answers 401', {
      settings: ['API_TOKENS_SECRET_ID', 'API_TOKEN_HASHES'],
    });
  }
  // Routes are compiled once per execution environment; only the request context is per invocation.
  const route = createRouter<RequestContext>([
    { method: 'GET', pattern: '/api/health', handle: (_request, { runWithDb }) => healthResponse(runWithDb) },
    ...importJobRoutes({ authenticate: authenticator.authenticate, limits: config.api }),
    ...consoleRoutes<RequestContext>({ uploadOrigins: [] }),
  ]);
  return async (event: APIGatewayProxyEventV2, context: Context): Promise<HttpResponse> => {
    const request = parseRequest(event);
    // Every route calls this at most once: one connection per request, opened after authentication.
    const runWithDb: RunWithDb = (work) => withConnection(config.db, work, { invocation: context });
    let response: HttpResponse;
    try {
      response = await route(request, { runWithDb });
    } catch (error) {
      response = errorResponse(error, request.requestId);
    }
    response = withCors(response, request.headers.origin, config.api.corsAllowedOrigins);
    logger.info('request', {
      method: request.method,
      path: request.path,
      statusCode: response.statusCode,
      requestId: request.requestId,
    });
    return response;
  };
}

export const handler = createApiHandler(loadConfig(process.env));
