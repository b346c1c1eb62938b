// HTTP API plumbing: API Gateway v2 event → typed request, routing, JSON responses, and the one
// error → response mapping. Callers' mistakes become 4xx with a JSON body; only our own faults are 500.

import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  ConnectionLimitError,
  DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS,
  HttpError,
  isDatabaseUnavailable,
} from './errors.js';
import { logger } from './logger.js';

export type HttpRequest = {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly requestId: string;
  readonly params: Readonly<Record<string, string>>;
};

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { statusCode: number };

export function parseRequest(event: APIGatewayProxyEventV2): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  const raw = event.body ?? '';
  return {
    method: event.requestContext.http.method.toUpperCase(),
    path: event.rawPath,
    query,
    headers,
    body: Buffer.from(raw, event.isBase64Encoded ? 'base64' : 'utf8'),
    requestId: event.requestContext.requestId,
    params: {},
  };
}

export function json(
  statusCode: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** The one mapping from a thrown error to a response. Details of our own faults go to the log only. */
export function errorResponse(error: unknown, requestId: string): HttpResponse {
  if (error instanceof HttpError) {
    const body =
      error.details === undefined
        ? { error: error.message }
        : { error: error.message, details: error.details };
    return json(error.statusCode, body, error.headers);
  }
  if (error instanceof ConnectionLimitError) {
    logger.warn('database connection limit reached', { errno: error.errno, attempts: error.attempts });
    return json(
      503,
      { error: 'Service busy: database connection limit reached, retry later', request_id: requestId },
      { 'retry-after': String(error.retryAfterSeconds) },
    );
  }
  if (isDatabaseUnavailable(error)) {
    logger.warn('database did not answer in time', { error: error instanceof Error ? error : String(error) });
    return json(
      503,
      {
        error: 'Service unavailable: the database did not answer in time, retry later',
        request_id: requestId,
      },
      { 'retry-after': String(DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS) },
    );
  }
  logger.error('unhandled error', { error: error instanceof Error ? error : String(error) });
  return json(500, { error: 'Internal server error', request_id: requestId });
}

/** C is what a handler gets per request besides the request itself (e.g. its way to the database). */
export type RouteHandler<C> = (request: HttpRequest, context: C) => Promise<HttpResponse>;
export type Route<C> = {
  readonly method: string;
  readonly pattern: string;
  readonly handle: RouteHandler<C>;
};

type CompiledRoute<C> = Route<C> & { readonly regex: RegExp; readonly names: readonly string[] };

/** A tiny router over `/path/{param}` patterns: 404 for an unknown path, 405 (with Allow) for a wrong method. */
/** Compile once (cold start); the returned function routes each request with its own context. */
export function createRouter<C>(
  routes: readonly Route<C>[],
): (request: HttpRequest, context: C) => Promise<HttpResponse> {
  const compiled: CompiledRoute<C>[] = routes.map((route) => {
    const names: string[] = [];
    const source = route.pattern
      .split('/')
      .map((segment) => {
        const param = /^\{(\w+)\}$/.exec(segment);
        if (!param?.[1]) return segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
        names.push(param[1]);
        return '([^/]+)';
      })
      .join('/');
    return { ...route, regex: new RegExp(`^${source}/?$`), names };
  });
  return async (request, context) => {
    const allowed: string[] = [];
    for (const route of compiled) {
      const match = route.regex.exec(request.path);
      if (!match) continue;
      if (route.method !== request.method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, index) => {
        params[name] = decodePathSegment(match[index + 1] ?? '');
      });
      return route.handle({ ...request, params }, context);
    }
    if (allowed.length > 0) {
      throw new HttpError(
        405,
        `Method ${request.method} not allowed`,
        { allowed },
        { allow: allowed.join(', ') },
      );
    }
    throw new HttpError(404, 'Route not found');
  };
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'Malformed percent-encoding in the path');
  }
}

/**
 * CORS on actual responses for an allowed Origin: the origin echoed (never `*`) with `Vary: Origin`.
 * API Gateway answers preflights and sets these itself when its CORS is configured; this keeps the
 * same policy wherever else the handler runs (serverless-offline, tests).
 */
export function withCors(
  response: HttpResponse,
  origin: string | undefined,
  allowedOrigins: readonly string[],
): HttpResponse {
  const vary = response.headers?.vary;
  const headers = { ...response.headers, vary: vary === undefined ? 'Origin' : `${vary}, Origin` };
  if (origin === undefined || !allowedOrigins.includes(origin.toLowerCase())) return { ...response, headers };
  return {
    ...response,
    headers: {
      ...headers,
      'access-control-allow-origin': origin,
      'access-control-expose-headers': 'Location',
    },
  };
}
