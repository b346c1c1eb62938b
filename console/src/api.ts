// The console's client for the HTTP API: the token (kept in sessionStorage), JSON calls that turn
// every non-2xx answer into an ApiError carrying the API's own message, and XMLHttpRequest uploads
// (fetch cannot report upload progress). A feature a stage has not enabled (direct uploads without a
// bucket) answers 501: callers use isNotEnabled() to explain it instead of failing.

const TOKEN_KEY = 'eclectyc.console.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** True when this stage has the route but not the feature behind it (501). */
export function isNotEnabled(error: unknown): boolean {
  return error instanceof ApiError && error.status === 501;
}

/**
 * Whether this stage offers a feature, asked with a request it must refuse before doing any work (a
 * missing required parameter: a 400, no database, no side effect). No answer counts as yes.
 */
export async function featureEnabled(method: 'GET' | 'POST', path: string): Promise<boolean> {
  try {
    await apiJson(method, path);
    return true;
  } catch (error) {
    return !isNotEnabled(error);
  }
}

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Called on any 401, so the page can ask for the token again. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

function authHeaders(token: string | null = storedToken()): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === '' || value === false) continue;
    params.set(name, value === true ? '1' : String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

export async function apiJson(
  method: 'GET' | 'POST',
  path: string,
  options: {
    query?: Query;
    headers?: Record<string, string>;
    token?: string;
    expectStatuses?: number[];
  } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method,
      headers: {
        accept: 'application/json',
        ...authHeaders(options.token ?? storedToken()),
        ...options.headers,
      },
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'The API did not answer: check the network and try again', {});
  }
  const body = await readJson(response);
  if (response.ok || options.expectStatuses?.includes(response.status))
    return { status: response.status, body };
  throw toApiError(response.status, body);
}

async function readJson(response: Response): Promise<Record<string, unknown>> {
  try {
    const parsed: unknown = await response.json();
    return isRecord(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function toApiError(status: number, body: Record<string, unknown>): ApiError {
  if (status === 401) onUnauthorized();
  const message = typeof body.error === 'string' ? body.error : `The API answered ${status}`;
  return new ApiError(status, message, body);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type UploadProgress = (sentBytes: number, totalBytes: number) => void;

/**
 * Sends `body` with XMLHttpRequest so the bytes' progress can be shown. `form` posts to another
 * origin (the presigned S3 form) and so carries no token.
 */
export function sendWithProgress(options: {
  url: string;
  body: Blob | FormData;
  headers?: Record<string, string>;
  withToken: boolean;
  onProgress: UploadProgress;
}): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', options.url);
    const headers = { ...(options.withToken ? authHeaders() : {}), ...options.headers };
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) options.onProgress(event.loaded, event.total);
    });
    request.addEventListener('load', () => {
      let body: Record<string, unknown> = {};
      try {
        const parsed: unknown = JSON.parse(request.responseText);
        if (isRecord(parsed)) body = parsed;
      } catch {
        // S3 answers XML (or nothing): the status is what counts.
      }
      if (request.status === 401 && options.withToken) onUnauthorized();
      resolve({ status: request.status, body, text: request.responseText });
    });
    const failed = () =>
      reject(new ApiError(0, 'The upload was interrupted: check the network and try again', {}));
    request.addEventListener('error', failed);
    request.addEventListener('abort', failed);
    request.addEventListener('timeout', failed);
    request.send(options.body);
  });
}

export function errorFrom(status: number, body: Record<string, unknown>): ApiError {
  return toApiError(status, body);
}

export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** A message fit for the page: the API's own for an ApiError, a generic one otherwise. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return 'Something went wrong in the console; reload the page and try again';
}
