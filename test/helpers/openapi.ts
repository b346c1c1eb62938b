// Checks real API responses against openapi.yaml: the status must be declared for the operation, the
// required headers present and valid, the JSON body valid against the declared schema (Ajv, JSON Schema
// 2020-12, strict). Records what it validated, so a test can prove no part of the document is dead.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type AnySchema, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

export const OPENAPI_PATH = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));

type Json = Record<string, unknown>;
export type ApiResponse = {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string | number | boolean>> | undefined;
  readonly body?: string | undefined;
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const SCHEMAS_ID = 'https://eclectyc.invalid/openapi/components/schemas';

export const openApi: Json = asObject(parse(readFileSync(OPENAPI_PATH, 'utf8')), 'openapi.yaml');

// ajv-formats is CommonJS with a `default` export; under NodeNext its default import is the module object.
const addFormats = addFormatsModule.default;
const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
// OpenAPI 3.0's `nullable` does not exist in 3.1 (JSON Schema 2020-12): unknown, so strict mode refuses it.
ajv.removeKeyword('nullable');
addFormats(ajv);
ajv.addSchema({ $id: SCHEMAS_ID, $defs: rewriteRefs(child(child(openApi, 'components'), 'schemas')) });
const validators = new Map<string, ValidateFunction>();
const exercised = new Set<string>();

export class OpenApiMismatchError extends Error {
  override readonly name = 'OpenApiMismatchError';
}

/**
 * Throws OpenApiMismatchError unless the response is one openapi.yaml declares for this operation. A
 * method the document does not list for a declared path must be its 405 (MethodNotAllowed, with Allow
 * naming the listed methods); an undeclared path must be its 404 (RouteNotFound).
 */
export function validateResponse(method: string, pathTemplate: string, response: ApiResponse): void {
  const verb = method.toUpperCase();
  const status = String(response.statusCode);
  const label = `${verb} ${pathTemplate} → ${status}`;
  const pathItem = paths()[pathTemplate];
  const operation = pathItem === undefined ? undefined : pathItem[verb.toLowerCase()];
  let declared: Json;
  let key: string;
  if (operation !== undefined) {
    const responses = child(asObject(operation, label), 'responses');
    const entry = responses[status];
    if (entry === undefined) {
      fail(
        label,
        `status ${status} is not declared (declared: ${Object.keys(responses).join(', ')})`,
        response,
      );
    }
    declared = deref(entry, label);
    key = `${verb} ${pathTemplate} ${status}`;
  } else if (pathItem !== undefined) {
    if (status !== '405') fail(label, 'the document lists no such method here, so only 405 fits', response);
    declared = componentResponse('MethodNotAllowed');
    const allowed = new Set(String(headerValue(response, 'allow') ?? '').split(/,\s*/));
    const listed = new Set(methodsOf(pathTemplate));
    if (allowed.size !== listed.size || [...listed].some((listedMethod) => !allowed.has(listedMethod))) {
      fail(
        label,
        `Allow "${String(headerValue(response, 'allow'))}" is not the listed ${[...listed]}`,
        response,
      );
    }
    key = `${verb} ${pathTemplate} 405 (method not listed)`;
  } else {
    if (status !== '404') fail(label, 'the path is not in the document, so only 404 fits', response);
    declared = componentResponse('RouteNotFound');
    key = `${verb} ${pathTemplate} 404 (route not in the document)`;
  }
  checkHeaders(label, declared, response);
  checkBody(label, declared, response);
  exercised.add(key);
}

/** Every `METHOD /path` the document declares. */
export function declaredOperations(): string[] {
  return Object.keys(paths()).flatMap((path) => methodsOf(path).map((method) => `${method} ${path}`));
}

/** Every `METHOD /path status` the document declares. */
export function declaredResponses(): string[] {
  return Object.entries(paths()).flatMap(([path, item]) =>
    methodsOf(path).flatMap((method) =>
      Object.keys(child(asObject(item[method.toLowerCase()], path), 'responses')).map(
        (status) => `${method} ${path} ${status}`,
      ),
    ),
  );
}

/** What validateResponse has accepted so far in this test file. */
export function exercisedResponses(): ReadonlySet<string> {
  return exercised;
}

/** The methods the document lists for a path, upper-cased. */
export function methodsOf(pathTemplate: string): string[] {
  const item = paths()[pathTemplate] ?? {};
  return HTTP_METHODS.filter((method) => item[method] !== undefined).map((method) => method.toUpperCase());
}

/** Compiles every schema in the document (components, parameters, headers, bodies) under strict Ajv. */
export function compileEverySchema(): number {
  let compiled = 0;
  const visit = (node: unknown, pointer: string): void => {
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        visit(item, `${pointer}/${index}`);
      });
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [name, value] of Object.entries(node)) {
      const here = `${pointer}/${name}`;
      if (name === 'schema' && !here.startsWith('/components/schemas/')) {
        compile(here, value);
        compiled++;
      } else {
        visit(value, here);
      }
    }
  };
  visit(openApi, '');
  for (const name of Object.keys(child(child(openApi, 'components'), 'schemas'))) {
    ajv.getSchema(`${SCHEMAS_ID}#/$defs/${name}`);
    compiled++;
  }
  return compiled;
}

function checkHeaders(label: string, declared: Json, response: ApiResponse): void {
  const headers = declared.headers === undefined ? {} : asObject(declared.headers, label);
  for (const [name, entry] of Object.entries(headers)) {
    const header = deref(entry, label);
    const value = headerValue(response, name);
    if (value === undefined) {
      if (header.required === true) fail(label, `required header ${name} is missing`, response);
      continue;
    }
    const schema = child(header, 'schema');
    const typed = schema.type === 'integer' && /^\d+$/.test(String(value)) ? Number(value) : value;
    const validate = compile(`${label} header ${name}`, schema);
    if (!validate(typed)) {
      fail(label, `header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(validate.errors)}`, response);
    }
  }
}

function checkBody(label: string, declared: Json, response: ApiResponse): void {
  if (declared.content === undefined) {
    if (response.body !== undefined && response.body !== '')
      fail(label, 'a body was sent, none declared', response);
    return;
  }
  const content = asObject(declared.content, label);
  const mediaType = String(headerValue(response, 'content-type') ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (mediaType === undefined || content[mediaType] === undefined) {
    fail(label, `Content-Type "${mediaType}" is not declared (${Object.keys(content).join(', ')})`, response);
  }
  let body: unknown;
  try {
    body = JSON.parse(response.body ?? '');
  } catch {
    fail(label, 'the body is not JSON', response);
  }
  const validate = compile(`${label} ${mediaType}`, child(asObject(content[mediaType], label), 'schema'));
  if (!validate(body)) {
    fail(label, ajv.errorsText(validate.errors, { dataVar: 'body', separator: '\n  ' }), response);
  }
}

function compile(cacheKey: string, schema: unknown): ValidateFunction {
  const cached = validators.get(cacheKey);
  if (cached !== undefined) return cached;
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(rewriteRefs(schema) as AnySchema);
  } catch (error) {
    throw new OpenApiMismatchError(
      `openapi.yaml: the schema at ${cacheKey} does not compile: ${String(error)}`,
    );
  }
  validators.set(cacheKey, validate);
  return validate;
}

/** `#/components/schemas/X` → the Ajv schema holding the components under $defs. */
function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node).map(([name, value]) => [
      name,
      name === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')
        ? `${SCHEMAS_ID}#/$defs/${value.slice('#/components/schemas/'.length)}`
        : rewriteRefs(value),
    ]),
  );
}

/** Follows a `$ref` to a response or header elsewhere in the document (one level, as the document uses). */
function deref(node: unknown, label: string): Json {
  const object = asObject(node, label);
  const ref = object.$ref;
  if (typeof ref !== 'string') return object;
  let target: unknown = openApi;
  for (const segment of ref.replace(/^#\//, '').split('/')) {
    target = typeof target === 'object' && target !== null ? (target as Json)[segment] : undefined;
  }
  if (target === undefined) throw new OpenApiMismatchError(`openapi.yaml: ${ref} does not exist`);
  return asObject(target, ref);
}

function componentResponse(name: string): Json {
  return asObject(child(child(openApi, 'components'), 'responses')[name], name);
}

function paths(): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(child(openApi, 'paths')).map(([path, item]) => [path, asObject(item, path)]),
  );
}

function headerValue(response: ApiResponse, name: string): string | number | boolean | undefined {
  const wanted = name.toLowerCase();
  for (const [header, value] of Object.entries(response.headers ?? {})) {
    if (header.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function child(node: Json, name: string): Json {
  return asObject(node[name], name);
}

function asObject(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OpenApiMismatchError(`openapi.yaml: ${where} is not an object`);
  }
  return value as Json;
}

function fail(label: string, problem: string, response: ApiResponse): never {
  const body = (response.body ?? '').slice(0, 600);
  throw new OpenApiMismatchError(`${label} does not match openapi.yaml: ${problem}\n  body: ${body}`);
}
