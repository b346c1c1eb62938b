// A real HTTP server on a free port that turns each request into the API Gateway (payload 2.0) event
// the api function receives and writes back its result, as serverless-offline does: the browser
// tests talk HTTP to the real handler without the whole local stack.

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { HttpResponse } from '../../lib/http.js';

export type EventHandler = (event: APIGatewayProxyEventV2) => Promise<HttpResponse>;

export type RunningServer = {
  readonly origin: string;
  /** Resolves once no request is being handled (a closed page's last poll may still be running). */
  idle(): Promise<void>;
  close(): Promise<void>;
};

export async function serveHandler(handle: EventHandler): Promise<RunningServer> {
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const server: Server = createServer((request, response) => {
    inFlight++;
    void (async () => {
      try {
        const result = await handle(await toEvent(request));
        const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
        response.writeHead(result.statusCode, {
          ...stringHeaders(result.headers),
          'content-length': body.length,
        });
        response.end(body);
      } catch {
        // The handler maps every error itself; reaching here is a test harness fault.
        response.writeHead(502, { 'content-type': 'text/plain' });
        response.end('test adapter: the handler threw');
      } finally {
        inFlight--;
        if (inFlight === 0) {
          for (const resolve of waiters) resolve();
          waiters = [];
        }
      }
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('test adapter: no TCP address');
  const { port } = address;
  return {
    origin: `http://127.0.0.1:${port}`,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))),
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function stringHeaders(headers: HttpResponse['headers']): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) result[name] = String(value);
  return result;
}

async function toEvent(request: IncomingMessage): Promise<APIGatewayProxyEventV2> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.from(chunk));
  const body = Buffer.concat(chunks);
  const url = new URL(request.url ?? '/', 'http://adapter.invalid');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // API Gateway joins repeated query parameters with commas.
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  const method = request.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'adapter',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'adapter',
      http: {
        method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: `adapter-${Math.random().toString(16).slice(2)}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    // Binary-safe, as API Gateway delivers bodies that are not plain text.
    ...(body.length > 0 ? { body: body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0,
  };
}
