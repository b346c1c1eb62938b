// The burst workload shared by bench:connections and bench:backoff: `invocations` invocations pulled by
// `concurrency` environments, one at a time each, against one MySQL user. Samples the user's peak
// sessions while it runs, counts them again a second after, then ends whatever the client left.

import type { Connection } from 'mysql2/promise';
import { ConnectionLimitError } from '../lib/errors.js';
import type { Environment } from './connections-clients.js';
import { endAllSessions, heldSessions, samplePeakSessions, sleep } from './connections-sessions.js';

export type BurstResult = {
  readonly ok: number;
  readonly errors: Map<string, number>;
  readonly peak: number;
  readonly openAfter: number;
  readonly wallMs: number;
};

export type BurstOptions = {
  readonly admin: Connection;
  readonly user: string;
  readonly environments: readonly Environment[];
  readonly invocations: number;
  readonly concurrency: number;
  readonly holdMs: number;
  /** How long after the burst the sessions still open are counted. */
  readonly afterMs: number;
};

export async function runBurst(options: BurstOptions): Promise<BurstResult> {
  const { admin, user, environments } = options;
  const errors = new Map<string, number>();
  let next = 0;
  let ok = 0;
  const sampler = samplePeakSessions(admin, user);
  const startedMs = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      const environment = environments[worker % environments.length];
      if (environment === undefined) return;
      for (let id = next++; id < options.invocations; id = next++) {
        try {
          await environment.invoke({ id: 1 + id, holdMs: options.holdMs });
          ok++;
        } catch (error) {
          countError(errors, error);
        }
      }
    }),
  );
  const wallMs = performance.now() - startedMs;
  const peak = await sampler.stop();
  await sleep(options.afterMs);
  const openAfter = await heldSessions(admin, user);
  await Promise.all(environments.map((environment) => environment.release()));
  await endAllSessions(admin, user);
  return { ok, errors, peak, openAfter, wallMs };
}

function errorLabel(error: unknown): string {
  if (error instanceof ConnectionLimitError) return `ConnectionLimitError ${error.errno}`;
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  if (error instanceof Error && /max_user_connections/.test(error.message)) {
    // serverless-mysql rethrows `new Error(e)`: the code is lost, only the text says what happened.
    return 'Error without code ("max_user_connections")';
  }
  return error instanceof Error ? error.name : String(error);
}

export function countError(errors: Map<string, number>, error: unknown): void {
  const label = errorLabel(error);
  errors.set(label, (errors.get(label) ?? 0) + 1);
}
