// Invoking the local stack's functions now, through serverless-offline's Lambda endpoint (the AWS
// Invoke API on LAMBDA_PORT, 3002): what the schedules do, without waiting for them. Used by
// `npm run process` and `npm run smoke`.

import type { Env } from '../lib/config.js';
import { localPorts } from './local-db.js';

export type LocalFunction = 'api' | 'processImports' | 'monitor';

/** The function's result; throws with one line when the stack is not running or the function failed. */
export async function invokeLocalFunction(
  env: Env,
  functionKey: LocalFunction,
  event: unknown,
): Promise<Record<string, unknown>> {
  const base = `http://localhost:${localPorts(env).lambda}`;
  let response: Response;
  try {
    response = await fetch(`${base}/2015-03-31/functions/eclectyc-local-${functionKey}/invocations`, {
      method: 'POST',
      body: JSON.stringify(event),
    });
  } catch {
    throw new Error(
      `Nothing answers at ${base} (serverless-offline's Lambda endpoint): start the local stack with npm start (LAMBDA_PORT moves the port).`,
    );
  }
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200 || 'errorMessage' in body) {
    throw new Error(
      `${functionKey} failed: ${response.status} ${String(body.errorType)}: ${String(body.errorMessage)} (details in the npm start terminal)`,
    );
  }
  return body;
}
