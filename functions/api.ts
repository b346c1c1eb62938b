import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createAuthenticator } from '../lib/auth.js';
import { type Config, loadConfig } from '../lib/config.js';
import { ConnectionTally, createFunctionMetrics, publishConnectionTally } from '../lib/connection-metrics.js';
import { uploadOrigins } from '../lib/console/console-headers.js';
import { consoleRoutes } from '../lib/console/console-routes.js';
import { type RunWithDb, withConnection } from '../lib/db.js';
import { healthResponse } from '../lib/health/report.js';
import { createRouter, errorResponse, type HttpResponse, parseRequest, withCors } from '../lib/http.js';
import { importJobRoutes, type RequestContext } from '../lib/imports/job-routes.js';
import { logger } from '../lib/logger.js';
import { readingRoutes } from '../lib/readings/reading-routes.js';
import { type SecretCache, sharedSecretCache } from '../lib/secrets.js';
import type { S3Credentials } from '../lib/storage/s3-client.js';
import { importUploadRoutes } from '../lib/storage/upload-routes.js';

export function createApiHandler(
  config: Config,
  options: { secrets?: SecretCache; s3Credentials?: S3Credentials } = {},
) {
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
    {
      method: 'GET',
      pattern: '/api/health',
      handle: (_request, { runWithDb }) => healthResponse(runWithDb, config.api.usageThresholds),
    },
    ...importJobRoutes({ authenticate: authenticator.authenticate, limits: config.api }),
    ...importUploadRoutes({
      authenticate: authenticator.authenticate,
      storage: config.storage,
      s3Credentials: options.s3Credentials,
    }),
    ...readingRoutes({ authenticate: authenticator.authenticate }),
    ...consoleRoutes<RequestContext>({ uploadOrigins: uploadOrigins(config.storage) }),
  ]);
  // Metrics buffer numbers in memory and write them to stdout: no socket, so one per handler is fine.
  const metrics = createFunctionMetrics(config.stage, 'api');
  return async (event: APIGatewayProxyEventV2, context: Context): Promise<HttpResponse> => {
    // Request id, function name and cold start on every log line of this invocation.
    logger.addContext(context);
    const request = parseRequest(event);
    const tally = new ConnectionTally();
    // Every route calls this at most once: one connection per request, opened after authentication.
    const runWithDb: RunWithDb = (work) =>
      withConnection(config.db, work, { invocation: context, connectionEvents: tally });
    let response: HttpResponse;
    try {
      response = await route(request, { runWithDb });
    } catch (error) {
      response = errorResponse(error, request.requestId);
    } finally {
      publishConnectionTally(metrics, tally);
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
