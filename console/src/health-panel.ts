// The health panel: GET /api/health's overall verdict (also shown as the header badge), the database
// round trip, the import queue, and any further check the API reports (e.g. connection usage),
// shown generically so a newer API's checks appear without a console change.

import { apiJson, isRecord, messageOf } from './api.js';
import { byId, fill, formatInstant, h } from './dom.js';
import { Poller } from './poller.js';

const HEALTH_DELAY_MS = 30_000;

const LABELS: Readonly<Record<string, string>> = {
  round_trip_ms: 'Round trip (ms)',
  queued: 'Queued',
  processing: 'Processing',
  stuck: 'Stuck',
  failed_last_24h: 'Failed (24 h)',
  system_failed_last_24h: 'System failures (24 h)',
  finished_last_24h: 'Finished (24 h)',
  failure_rate_percent: 'Failure rate (%)',
  in_use: 'Sessions in use',
  limit: 'Connection limit',
  usage_percent: 'Usage (%)',
  level: 'Level',
  error: 'Error',
};

export class HealthPanel {
  private readonly detail = byId('health-detail', HTMLElement);
  private readonly badge = byId('health-badge', HTMLElement);
  // Health changes slowly, and each check costs the database a connection: one every 30 s from the
  // first (one a minute while the tab is hidden), not the job poller's back-off from 1 s, which made
  // nine checks in a tab's first minute. "Check now" asks at once.
  private readonly poller = new Poller(
    async () => {
      await this.refresh();
      return 'unchanged';
    },
    { firstDelayMs: HEALTH_DELAY_MS, maxVisibleDelayMs: HEALTH_DELAY_MS },
  );

  constructor() {
    byId('health-refresh', HTMLButtonElement).addEventListener('click', () => void this.refresh());
  }

  start(): void {
    void this.refresh();
    this.poller.start();
  }

  stop(): void {
    this.poller.stop();
  }

  async refresh(): Promise<void> {
    try {
      // 207 (degraded) and 503 (critical) still carry the report.
      const { body } = await apiJson('GET', '/api/health', { expectStatuses: [503] });
      this.render(body);
    } catch (error) {
      this.setBadge('unknown');
      fill(this.detail, h('p', { class: 'error' }, messageOf(error)));
    }
  }

  private setBadge(status: string): void {
    fill(
      this.badge,
      'Health: ',
      h('span', { class: `badge health-${status.replace(/[^a-z]/g, '')}` }, status),
    );
  }

  private render(report: Record<string, unknown>): void {
    const status = typeof report.status === 'string' ? report.status : 'unknown';
    this.setBadge(status);
    const checks = isRecord(report.checks) ? report.checks : {};
    fill(
      this.detail,
      h(
        'p',
        {},
        'Overall: ',
        h('strong', {}, status),
        ` (checked ${formatInstant(stringOr(report.timestamp))})`,
      ),
      ...Object.entries(checks).map(([name, check]) => checkBlock(name, check)),
    );
  }
}

function stringOr(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function checkBlock(name: string, check: unknown): HTMLElement {
  const entries = isRecord(check) ? Object.entries(check) : [];
  const status = isRecord(check) && typeof check.status === 'string' ? check.status : 'unknown';
  const reasons = isRecord(check) && Array.isArray(check.reasons) ? check.reasons.map(String) : [];
  return h(
    'div',
    { class: 'health-check' },
    h(
      'h3',
      {},
      `${name.replace(/_/g, ' ')}: `,
      h('span', { class: `badge health-${status.replace(/[^a-z]/g, '')}` }, status),
    ),
    h(
      'dl',
      { class: 'facts' },
      ...entries
        .filter(
          ([key, value]) =>
            key !== 'status' && key !== 'reasons' && !isRecord(value) && !Array.isArray(value),
        )
        .flatMap(([key, value]) => [
          h('dt', {}, LABELS[key] ?? key.replace(/_/g, ' ')),
          h('dd', {}, String(value)),
        ]),
    ),
    reasons.length === 0
      ? null
      : h('ul', { class: 'reasons' }, ...reasons.map((reason) => h('li', {}, reason))),
  );
}
