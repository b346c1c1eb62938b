// The project's osls (the Serverless Framework fork in node_modules) and the environment every
// script runs it with: no telemetry, no notifications (no network calls beyond what a command needs).

import { fileURLToPath } from 'node:url';

export const OSLS = fileURLToPath(new URL('../node_modules/.bin/osls', import.meta.url));

export function oslsEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
}
