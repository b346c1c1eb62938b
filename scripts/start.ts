// `npm start`: prepares the local database, then serves the real handlers through serverless-offline
// on http://localhost:3000 with the local stage's settings.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { explainConnectFailure, loadLocalConfig, localEnv, prepareDatabase } from './local-db.js';

const env = localEnv(process.env);
const config = loadLocalConfig(process.env);
try {
  await prepareDatabase(config);
} catch (error) {
  const explained = explainConnectFailure(error, config);
  if (explained === undefined) throw error;
  console.error(explained);
  process.exit(1);
}

const port = env.HTTP_PORT ?? '3000';
console.log(`Database ${config.db.database} on ${config.db.host}:${config.db.port} is ready.`);
console.log(`Starting the API on http://localhost:${port}  (try: curl http://localhost:${port}/api/health)`);

const osls = fileURLToPath(new URL('../node_modules/.bin/osls', import.meta.url));
const child = spawn(
  osls,
  ['offline', 'start', '--stage', 'local', '--localEnvironment', '--httpPort', port],
  {
    stdio: 'inherit',
    env: { ...env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
  },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === null ? 0 : 1);
});
