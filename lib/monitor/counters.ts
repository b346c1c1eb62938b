// Server counters that move between monitor runs, and the rule that turns two readings into what
// happened in between. Pure. A counter restarts from 0 with the server (or FLUSH STATUS), and another
// server (a failover) has its own history: see docs/design.md#counters-between-runs.

/** One counter as read now, or as the previous run stored it. */
export type CounterReading = {
  readonly name: string;
  readonly value: number;
  /** Identifies the server (host name, port, server_id): another server has another history. */
  readonly serverKey: string;
  readonly uptimeSeconds: number;
};

/**
 * since-last-run: the difference; since-restart: the server restarted (or the counter was flushed)
 * after the last run, so the current value is what happened since (a lower bound for the interval);
 * first-reading / server-changed: nothing to compare with, so no delta this run.
 */
export type DeltaBasis = 'since-last-run' | 'since-restart' | 'first-reading' | 'server-changed';

export type CounterDelta = {
  readonly name: string;
  readonly value: number;
  readonly delta: number | null;
  readonly basis: DeltaBasis;
};

export function counterDelta(previous: CounterReading | undefined, current: CounterReading): CounterDelta {
  const base = { name: current.name, value: current.value };
  if (previous === undefined) return { ...base, delta: null, basis: 'first-reading' };
  if (previous.serverKey !== current.serverKey) return { ...base, delta: null, basis: 'server-changed' };
  if (current.uptimeSeconds < previous.uptimeSeconds || current.value < previous.value) {
    return { ...base, delta: current.value, basis: 'since-restart' };
  }
  return { ...base, delta: current.value - previous.value, basis: 'since-last-run' };
}

/** The global status variables read each run; Max_used_connections is a peak, reported as is. */
export const STATUS_COUNTERS = ['Aborted_connects', 'Connection_errors_max_connections'] as const;

/** The name a target user's accepted-connections counter (performance_schema.accounts) is stored under. */
export function userConnectionsCounter(user: string): string {
  return `accounts.total_connections:${user}`.slice(0, 128);
}

export type ServerCounters = {
  readonly serverKey: string;
  readonly uptimeSeconds: number;
  /** Aborted_connects: failed logins of any kind (bad password, refused for a limit, timed out handshake). */
  readonly abortedConnects: CounterDelta;
  /** Connection_errors_max_connections: logins refused because max_connections was reached (1040). */
  readonly connectionErrorsMaxConnections: CounterDelta;
  /** Max_used_connections: the most sessions at once since the server started (a peak, not a counter). */
  readonly maxUsedConnections: number;
  /** Per target user, connections accepted (performance_schema.accounts); null where not readable. */
  readonly userConnections: readonly (CounterDelta & { readonly user: string })[] | null;
};
