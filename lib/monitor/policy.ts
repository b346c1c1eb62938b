// The monitor's rules, pure: effective connection limits, per-user usage and level, and which sessions
// may be killed (or have their statement stopped), in what order and how many. No SQL and no I/O here;
// the snapshot repository supplies the rows.

import { bulkLoadDeadlineMs } from '../statement-tag.js';

export type UsageLevel = 'healthy' | 'caution' | 'warning';

/** One processlist row (never the monitor's own session), joined with its open InnoDB transaction. */
export type SessionRow = {
  readonly id: number;
  readonly user: string;
  readonly host: string;
  readonly db: string | null;
  readonly command: string;
  /** Seconds in the current command; for `Sleep`, how long the session has been idle. */
  readonly timeSeconds: number;
  readonly state: string | null;
  /** The running statement, truncated; null when none runs. */
  readonly info: string | null;
  /** Age of the session's open InnoDB transaction; null when it has none. */
  readonly transactionSeconds: number | null;
  /** The program_name connect attribute (performance_schema.session_connect_attrs); null when unknown. */
  readonly programName: string | null;
  /**
   * The running statement's id (MariaDB's PROCESSLIST.QUERY_ID): what KILL QUERY ID stops. Absent
   * where the processlist has no such column (MySQL).
   */
  readonly queryId?: number;
};

/** The server's limits; 0 means "no limit" for max_user_connections. */
export type ServerLimits = {
  readonly maxConnections: number;
  readonly maxUserConnections: number;
};

/** One account (user@host) of a target user and its own MAX_USER_CONNECTIONS (0: none of its own). */
export type AccountLimit = {
  readonly user: string;
  readonly host: string;
  readonly maxUserConnections: number;
};

export type Thresholds = {
  readonly maxIdleSeconds: number;
  readonly maxIdleInTransactionSeconds: number;
  readonly emergencyMaxIdleSeconds: number;
  readonly usageCautionPercent: number;
  readonly usageWarningPercent: number;
};

export type UserUsage = {
  readonly user: string;
  /** The smallest own MAX_USER_CONNECTIONS among the user's accounts; 0 when none has one. */
  readonly accountLimit: number;
  /** False when mysql.user has no account by this name (its sessions still count). */
  readonly accountFound: boolean;
  readonly effectiveLimit: number;
  readonly total: number;
  readonly active: number;
  readonly sleeping: number;
  /** Sleeping longer than the idle threshold in force. */
  readonly idle: number;
  /** Sleeping with an open InnoDB transaction. */
  readonly idleInTransaction: number;
  readonly usagePercent: number;
  readonly level: UsageLevel;
};

/**
 * The limit a user's sessions run into first. A non-zero account limit replaces the global
 * max_user_connections (MySQL and MariaDB both); either way max_connections bounds everyone.
 */
export function effectiveLimit(server: ServerLimits, accountLimit: number): number {
  const perUser = accountLimit > 0 ? accountLimit : server.maxUserConnections;
  return perUser > 0 ? Math.min(perUser, server.maxConnections) : server.maxConnections;
}

/** The two usage thresholds, in percent of the effective limit (the API's health reads them too). */
export type UsageThresholds = Pick<Thresholds, 'usageCautionPercent' | 'usageWarningPercent'>;

/** Strictly above a threshold moves up a level: exactly 60 % is still healthy. */
export function usageLevel(usagePercent: number, thresholds: UsageThresholds): UsageLevel {
  if (usagePercent > thresholds.usageWarningPercent) return 'warning';
  if (usagePercent > thresholds.usageCautionPercent) return 'caution';
  return 'healthy';
}

const LEVEL_RANK: Readonly<Record<UsageLevel, number>> = { healthy: 0, caution: 1, warning: 2 };

export function worstLevel(levels: readonly UsageLevel[]): UsageLevel {
  return levels.reduce<UsageLevel>(
    (worst, level) => (LEVEL_RANK[level] > LEVEL_RANK[worst] ? level : worst),
    'healthy',
  );
}

/** At warning level idle sessions go sooner, to free room before the limit locks users out. */
export function idleThresholdSeconds(level: UsageLevel, thresholds: Thresholds): number {
  return level === 'warning'
    ? Math.min(thresholds.emergencyMaxIdleSeconds, thresholds.maxIdleSeconds)
    : thresholds.maxIdleSeconds;
}

/** Usage of each target user against its effective limit, in the order the users were given. */
export function measureUsers(
  sessions: readonly SessionRow[],
  targetUsers: readonly string[],
  server: ServerLimits,
  accounts: readonly AccountLimit[],
  thresholds: Thresholds,
): UserUsage[] {
  const measured = targetUsers.map((user) => {
    const own = accounts
      .filter((account) => account.user === user)
      .map((account) => account.maxUserConnections);
    // A user with several accounts (user@host) is held to the tightest one.
    const limits = own.length === 0 ? [0] : own;
    const limit = Math.min(...limits.map((accountLimit) => effectiveLimit(server, accountLimit)));
    const mine = sessions.filter((session) => session.user === user);
    const total = mine.length;
    const usagePercent = (total / limit) * 100;
    return {
      user,
      accountLimit: smallestNonZero(own),
      accountFound: own.length > 0,
      effectiveLimit: limit,
      total,
      active: mine.filter((session) => session.command !== 'Sleep').length,
      sleeping: mine.filter((session) => session.command === 'Sleep').length,
      idleInTransaction: mine.filter(
        (session) => session.command === 'Sleep' && session.transactionSeconds !== null,
      ).length,
      usagePercent,
      level: usageLevel(usagePercent, thresholds),
    };
  });
  const threshold = idleThresholdSeconds(worstLevel(measured.map((usage) => usage.level)), thresholds);
  return measured.map((usage) => ({
    ...usage,
    idle: sessions.filter((session) => session.user === usage.user && isIdleBeyond(session, threshold))
      .length,
  }));
}

/** Asleep between statements for longer than the idle threshold in force. */
export function isIdleBeyond(session: SessionRow, thresholdSeconds: number): boolean {
  return session.command === 'Sleep' && session.timeSeconds > thresholdSeconds;
}

function smallestNonZero(values: readonly number[]): number {
  const nonZero = values.filter((value) => value > 0);
  return nonZero.length === 0 ? 0 : Math.min(...nonZero);
}

/** Accounts the server runs its own threads as; never killed, whatever the target list says. */
export const SYSTEM_USERS: ReadonlySet<string> = new Set([
  '',
  'system user',
  'event_scheduler',
  'unauthenticated user',
  'DELAYED',
]);

/** Commands of server, replication and half-open threads; never killed. */
export const SYSTEM_COMMANDS: ReadonlySet<string> = new Set([
  'Binlog Dump',
  'Binlog Dump GTID',
  'Connect',
  'Connect Out',
  'Daemon',
  'Delayed insert',
  'Error',
  'Killed',
  'Register Slave',
  'Slave_IO',
  'Slave_SQL',
  'Slave_worker',
  'Table Dump',
]);

export type KillReason = 'idle' | 'idle-emergency' | 'idle-in-transaction' | 'runaway-statement';

/** KILL CONNECTION ends the session; KILL QUERY stops its statement and keeps the session. */
export type KillAction = 'kill-connection' | 'kill-query';

export function killAction(reason: KillReason): KillAction {
  return reason === 'runaway-statement' ? 'kill-query' : 'kill-connection';
}

export type SkipReason =
  | 'own-session'
  | 'system-thread'
  | 'not-target-user'
  | 'never-kill'
  | 'never-kill-unverifiable'
  | 'not-sleeping'
  | 'busy-under-threshold'
  | 'bulk-load-in-time'
  | 'running-statement'
  | 'idle-under-threshold'
  | 'in-transaction-under-threshold';

export type KillDecision =
  | { readonly kill: true; readonly reason: KillReason; readonly thresholdSeconds: number }
  | { readonly kill: false; readonly skip: SkipReason };

export type KillPolicy = {
  readonly targetUsers: readonly string[];
  readonly level: UsageLevel;
  readonly thresholds: Thresholds;
  /** The monitor's own session id; its row should never reach the policy, but it is checked anyway. */
  readonly ownSessionId: number | null;
  /** False when INNODB_TRX is closed to the monitor: every idle session may then hold a transaction. */
  readonly transactionsVisible: boolean;
  /** Sessions reported but never killed (MONITOR_NEVER_KILL). */
  readonly neverKill: NeverKill;
  /** False when connect attributes cannot be read: no session can be shown not to be a never-kill program. */
  readonly programNamesVisible: boolean;
  /** A target user's statement running longer than this is stopped (KILL QUERY); null: never. */
  readonly maxBusySeconds: number | null;
  /** The clock the bulk-load deadlines are compared with (epoch ms). */
  readonly nowMs: number;
};

/** MONITOR_NEVER_KILL: program_name values, and host patterns (`*` or `%` for any characters). */
export type NeverKill = {
  readonly programNames: readonly string[];
  readonly hostPatterns: readonly string[];
};

export const NO_NEVER_KILL: NeverKill = Object.freeze({ programNames: [], hostPatterns: [] });

/** Commands during which a session runs a statement that KILL QUERY can stop. */
const STATEMENT_COMMANDS: ReadonlySet<string> = new Set(['Query', 'Execute']);

/** Lambda's longest timeout: no invocation, so no honest bulk-load deadline, lasts longer than this. */
const LONGEST_INVOCATION_MS = 900_000;

/** Whether one session may be killed, and why (or why not). Every "never" rule comes first. */
export function decideKill(session: SessionRow, policy: KillPolicy): KillDecision {
  if (session.id === policy.ownSessionId) return { kill: false, skip: 'own-session' };
  if (SYSTEM_USERS.has(session.user) || SYSTEM_COMMANDS.has(session.command)) {
    return { kill: false, skip: 'system-thread' };
  }
  if (!policy.targetUsers.includes(session.user)) return { kill: false, skip: 'not-target-user' };
  const protectedBy = neverKillRule(session, policy);
  if (protectedBy !== null) return { kill: false, skip: protectedBy };
  if (session.command !== 'Sleep') return decideBusy(session, policy);
  if (session.info !== null) return { kill: false, skip: 'running-statement' };
  // Unseen transactions are assumed open: the longer threshold is the safe one.
  if (session.transactionSeconds !== null || !policy.transactionsVisible) {
    const thresholdSeconds = policy.thresholds.maxIdleInTransactionSeconds;
    return session.timeSeconds > thresholdSeconds
      ? { kill: true, reason: 'idle-in-transaction', thresholdSeconds }
      : { kill: false, skip: 'in-transaction-under-threshold' };
  }
  const thresholdSeconds = idleThresholdSeconds(policy.level, policy.thresholds);
  if (session.timeSeconds <= thresholdSeconds) return { kill: false, skip: 'idle-under-threshold' };
  const emergency = thresholdSeconds < policy.thresholds.maxIdleSeconds;
  return { kill: true, reason: emergency ? 'idle-emergency' : 'idle', thresholdSeconds };
}

/** Whether MONITOR_NEVER_KILL protects the session; the unverifiable case protects it too. */
function neverKillRule(session: SessionRow, policy: KillPolicy): SkipReason | null {
  const { programNames, hostPatterns } = policy.neverKill;
  const host = hostWithoutPort(session.host);
  if (hostPatterns.some((pattern) => hostPatternMatches(pattern, host))) return 'never-kill';
  if (programNames.length === 0) return null;
  if (!policy.programNamesVisible) return 'never-kill-unverifiable';
  return session.programName !== null && programNames.includes(session.programName) ? 'never-kill' : null;
}

/** A busy session: stopped only past MAX_BUSY_SECONDS, and never a bulk load whose invocation has time. */
function decideBusy(session: SessionRow, policy: KillPolicy): KillDecision {
  const thresholdSeconds = policy.maxBusySeconds;
  if (thresholdSeconds === null || !STATEMENT_COMMANDS.has(session.command)) {
    return { kill: false, skip: 'not-sleeping' };
  }
  if (session.timeSeconds <= thresholdSeconds) return { kill: false, skip: 'busy-under-threshold' };
  const deadlineMs = bulkLoadDeadlineMs(session.info);
  // A deadline further out than any invocation could run is not believed.
  const startedAtMs = policy.nowMs - session.timeSeconds * 1000;
  if (deadlineMs !== null && deadlineMs > policy.nowMs && deadlineMs <= startedAtMs + LONGEST_INVOCATION_MS) {
    return { kill: false, skip: 'bulk-load-in-time' };
  }
  return { kill: true, reason: 'runaway-statement', thresholdSeconds };
}

/** The processlist's HOST is "host:port" for TCP sessions; patterns name the host alone. */
export function hostWithoutPort(host: string): string {
  return host.replace(/:\d+$/, '');
}

export function hostPatternMatches(pattern: string, host: string): boolean {
  const source = pattern
    .split(/[*%]/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 'i').test(host);
}

export type KillCandidate = {
  readonly session: SessionRow;
  readonly reason: KillReason;
  readonly thresholdSeconds: number;
};

/**
 * The sessions the policy allows killing: idle ones first, longest idle first (each frees a slot),
 * then runaway statements, longest running first (KILL QUERY frees none).
 */
export function selectKillCandidates(sessions: readonly SessionRow[], policy: KillPolicy): KillCandidate[] {
  const candidates: KillCandidate[] = [];
  for (const session of sessions) {
    const decision = decideKill(session, policy);
    if (decision.kill) {
      candidates.push({ session, reason: decision.reason, thresholdSeconds: decision.thresholdSeconds });
    }
  }
  const rank = (candidate: KillCandidate) => (killAction(candidate.reason) === 'kill-connection' ? 0 : 1);
  return candidates.sort((a, b) => rank(a) - rank(b) || b.session.timeSeconds - a.session.timeSeconds);
}

/** At most `maxKills` of the ordered candidates are acted on; the rest are reported as left. */
export function capKills(
  candidates: readonly KillCandidate[],
  maxKills: number,
): { readonly selected: KillCandidate[]; readonly left: KillCandidate[] } {
  return { selected: candidates.slice(0, maxKills), left: candidates.slice(maxKills) };
}
