// A saved monitor snapshot: everything one run read (server limits, account limits, the processlist
// with transactions and program names), as JSON, so a policy can be tried offline on a real moment
// (`npm run monitor -- --from-snapshot=FILE`). Pure: parsing checks every field and names the bad one.

import { AppError } from '../errors.js';
import type { AccountLimit, SessionRow } from './policy.js';
import type { ServerState, SessionReadPlan, SessionSource } from './snapshot-repository.js';

export const MONITOR_SNAPSHOT_FORMAT = 'eclectyc-monitor-snapshot/1';

export type MonitorSnapshot = {
  readonly format: typeof MONITOR_SNAPSHOT_FORMAT;
  /** When the processlist was read; the bulk-load deadlines are compared with this, not with now. */
  readonly takenAt: string;
  readonly targetUsers: readonly string[];
  readonly server: ServerState;
  readonly accounts: readonly AccountLimit[];
  readonly sessions: readonly SessionRow[];
  readonly transactionsVisible: boolean;
  readonly programNamesVisible: boolean;
  readonly plan: SessionReadPlan;
};

export class SnapshotError extends AppError {}

export function serializeSnapshot(snapshot: MonitorSnapshot): string {
  return `${JSON.stringify(snapshot, null, 2)}\n`;
}

export function parseSnapshot(text: string): MonitorSnapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new SnapshotError('The snapshot is not JSON', { cause: error });
  }
  const root = record(raw, 'snapshot');
  if (root.format !== MONITOR_SNAPSHOT_FORMAT) {
    throw new SnapshotError(`format: expected "${MONITOR_SNAPSHOT_FORMAT}" (written by --snapshot-out)`);
  }
  const takenAt = string(root.takenAt, 'takenAt');
  if (Number.isNaN(Date.parse(takenAt))) throw new SnapshotError('takenAt: not an ISO date');
  const server = record(root.server, 'server');
  const plan = record(root.plan, 'plan');
  return {
    format: MONITOR_SNAPSHOT_FORMAT,
    takenAt,
    targetUsers: list(root.targetUsers, 'targetUsers').map((user, i) => string(user, `targetUsers[${i}]`)),
    server: {
      ownSessionId: integer(server.ownSessionId, 'server.ownSessionId'),
      ownUser: string(server.ownUser, 'server.ownUser'),
      maxConnections: integer(server.maxConnections, 'server.maxConnections'),
      maxUserConnections: integer(server.maxUserConnections, 'server.maxUserConnections'),
      ownSessionUserLimit: integer(server.ownSessionUserLimit, 'server.ownSessionUserLimit'),
      performanceSchema: boolean(server.performanceSchema, 'server.performanceSchema'),
      performanceSchemaProcesslist: boolean(
        server.performanceSchemaProcesslist,
        'server.performanceSchemaProcesslist',
      ),
    },
    accounts: list(root.accounts, 'accounts').map((entry, i) => {
      const account = record(entry, `accounts[${i}]`);
      return {
        user: string(account.user, `accounts[${i}].user`),
        host: string(account.host, `accounts[${i}].host`),
        maxUserConnections: integer(account.maxUserConnections, `accounts[${i}].maxUserConnections`),
      };
    }),
    sessions: list(root.sessions, 'sessions').map((entry, i) => parseSession(entry, `sessions[${i}]`)),
    transactionsVisible: boolean(root.transactionsVisible, 'transactionsVisible'),
    programNamesVisible: boolean(root.programNamesVisible, 'programNamesVisible'),
    plan: {
      source: source(plan.source),
      transactions: boolean(plan.transactions, 'plan.transactions'),
      connectAttributes: boolean(plan.connectAttributes, 'plan.connectAttributes'),
    },
  };
}

function parseSession(value: unknown, at: string): SessionRow {
  const session = record(value, at);
  return {
    id: integer(session.id, `${at}.id`),
    user: string(session.user, `${at}.user`),
    host: string(session.host, `${at}.host`),
    db: nullable(session.db, `${at}.db`, string),
    command: string(session.command, `${at}.command`),
    timeSeconds: integer(session.timeSeconds, `${at}.timeSeconds`),
    state: nullable(session.state, `${at}.state`, string),
    info: nullable(session.info, `${at}.info`, string),
    transactionSeconds: nullable(session.transactionSeconds, `${at}.transactionSeconds`, integer),
    programName: nullable(session.programName, `${at}.programName`, string),
  };
}

function source(value: unknown): SessionSource {
  if (value === 'performance_schema' || value === 'information_schema') return value;
  throw new SnapshotError('plan.source: expected performance_schema or information_schema');
}

function record(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SnapshotError(`${at}: expected an object`);
  }
  return Object.fromEntries(Object.entries(value));
}

function list(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) throw new SnapshotError(`${at}: expected a list`);
  return value;
}

function string(value: unknown, at: string): string {
  if (typeof value !== 'string') throw new SnapshotError(`${at}: expected a string`);
  return value;
}

function integer(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new SnapshotError(`${at}: expected a whole number`);
  }
  return value;
}

function boolean(value: unknown, at: string): boolean {
  if (typeof value !== 'boolean') throw new SnapshotError(`${at}: expected true or false`);
  return value;
}

function nullable<T>(value: unknown, at: string, parse: (value: unknown, at: string) => T): T | null {
  return value === null ? null : parse(value, at);
}
