// The local stack's front door: `npm start` serves the API on HTTP_PORT through this small proxy to
// serverless-offline, which listens on a private port. A response the handler made passes through
// byte for byte. When the function itself fails (its module cannot load, it throws, it times out),
// serverless-offline answers with the error's message, type, stack trace and file paths; API Gateway
// answers a bare 500 instead, and so does this proxy, printing the details to the terminal.
// See docs/design.md#no-stack-traces-locally.

import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';

export type FrontDoorOptions = {
  readonly port: number;
  readonly upstreamPort: number;
  /** Strings no response may contain (the repository's path). */
  readonly secrets: readonly string[];
  /** Told what was withheld from a caller, for the terminal. */
  readonly onWithheld: (detail: string) => void;
};

/** Marks the front door's own 503 (serverless-offline not listening yet), unlike the API's 503s. */
export const UPSTREAM_DOWN_HEADER = 'x-local-api-unavailable';
const INTERNAL_ERROR = Buffer.from('{"message":"Internal Server Error"}');
/** serverless-offline's keys for a failed function (the handler's own errors are {"error": …}). */
const FAILURE_KEYS = ['"stackTrace"', '"errorMessage"', '"errorType"'];

/** Why a response must not reach the caller as is, or undefined when it may. */
export function withheldBecause(
  status: number,
  headers: IncomingHttpHeaders,
  body: Buffer,
  secrets: readonly string[],
): string | undefined {
  // Searched as bytes: decoding and parsing every response (a page of readings is a megabyte) would
  // cost more than the request; only a body naming a failure's keys is parsed.
  for (const secret of secrets) {
    if (secret !== '' && body.includes(secret)) return `a ${status} response naming a server path`;
  }
  if (!String(headers['content-type'] ?? '').includes('json')) return undefined;
  if (!FAILURE_KEYS.some((key) => body.includes(key))) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  if ('stackTrace' in parsed || 'errorMessage' in parsed || 'errorType' in parsed) {
    const failure = parsed as { errorType?: unknown; errorMessage?: unknown };
    return `the function failed: ${String(failure.errorType ?? 'Error')}: ${String(failure.errorMessage ?? '')}`;
  }
  return undefined;
}

export async function startFrontDoor(options: FrontDoorOptions): Promise<Server> {
  const server = createServer((incoming, outgoing) => {
    const upstream = request(
      {
        host: '127.0.0.1',
        port: options.upstreamPort,
        method: incoming.method,
        path: incoming.url,
        // Uncompressed, so the check below reads what the caller would (hapi gzips for fetch()).
        headers: { ...incoming.headers, 'accept-encoding': 'identity' },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const body = Buffer.concat(chunks);
          const status = response.statusCode ?? 502;
          const reason = withheldBecause(status, response.headers, body, options.secrets);
          if (reason !== undefined) {
            options.onWithheld(`${incoming.method} ${incoming.url}: ${reason}`);
            outgoing.writeHead(500, {
              'content-type': 'application/json',
              'content-length': INTERNAL_ERROR.length,
            });
            outgoing.end(INTERNAL_ERROR);
            return;
          }
          const headers = { ...response.headers };
          delete headers['transfer-encoding'];
          headers['content-length'] = String(body.length);
          outgoing.writeHead(status, headers);
          outgoing.end(body);
        });
        response.on('error', () => outgoing.destroy());
      },
    );
    upstream.on('error', () => {
      if (outgoing.headersSent) return void outgoing.destroy();
      const body = Buffer.from(
        '{"error":"The local API is not running (starting, or stopped): see the npm start terminal"}',
      );
      outgoing.writeHead(503, {
        'content-type': 'application/json',
        'content-length': body.length,
        [UPSTREAM_DOWN_HEADER]: '1',
      });
      outgoing.end(body);
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  return server;
}
