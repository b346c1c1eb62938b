// The jobs list (status filter, cursor paging) and one job's detail: live progress while it runs, its
// summary with the data-quality figures and the first row errors, and cancel/retry showing the API's
// 409 message when the job has moved on.

import { JOB_STATUSES } from '../../lib/imports/job-status.js';
import { ApiError, apiJson, messageOf } from './api.js';
import { byId, fill, formatInstant, formatNumber, h } from './dom.js';
import { isActive, type Job, jobFingerprint, parseJob, statusLabel } from './job.js';
import { Poller, type PollOutcome } from './poller.js';

const JOBS_PATH = '/api/import/jobs';
const PAGE_SIZE = 20;
const ROW_ERRORS_SHOWN = 10;

export class JobsPanel {
  private readonly body = byId('jobs-body', HTMLTableSectionElement);
  private readonly filter = byId('status-filter', HTMLSelectElement);
  private readonly listStatus = byId('jobs-status', HTMLElement);
  private readonly newerButton = byId('jobs-newer', HTMLButtonElement);
  private readonly olderButton = byId('jobs-older', HTMLButtonElement);
  private readonly detailSection = byId('job-section', HTMLElement);
  private readonly detailTitle = byId('job-title', HTMLElement);
  private readonly detail = byId('job-detail', HTMLElement);
  private readonly cancelButton = byId('job-cancel', HTMLButtonElement);
  private readonly retryButton = byId('job-retry', HTMLButtonElement);
  private readonly jobMessage = byId('job-message', HTMLElement);
  /** Cursors of the pages before the current one; the current page's own cursor is last. */
  private cursors: (string | undefined)[] = [undefined];
  private nextCursor: string | null = null;
  private selected: Job | null = null;
  private readonly poller = new Poller(() => this.pollSelected());

  constructor() {
    for (const status of JOB_STATUSES)
      this.filter.append(h('option', { value: status }, statusLabel(status)));
    this.filter.addEventListener('change', () => void this.showFirstPage());
    byId('jobs-refresh', HTMLButtonElement).addEventListener('click', () => void this.refreshPage());
    this.newerButton.addEventListener('click', () => void this.showNewerPage());
    this.olderButton.addEventListener('click', () => void this.showOlderPage());
    this.cancelButton.addEventListener('click', () => void this.act('cancel'));
    this.retryButton.addEventListener('click', () => void this.act('retry'));
  }

  stop(): void {
    this.poller.stop();
    this.selected = null;
    this.detailSection.hidden = true;
    this.body.replaceChildren();
  }

  async showFirstPage(): Promise<void> {
    this.cursors = [undefined];
    await this.refreshPage();
  }

  private async showOlderPage(): Promise<void> {
    if (this.nextCursor === null) return;
    this.cursors.push(this.nextCursor);
    await this.refreshPage();
  }

  private async showNewerPage(): Promise<void> {
    if (this.cursors.length <= 1) return;
    this.cursors.pop();
    await this.refreshPage();
  }

  async refreshPage(): Promise<void> {
    const cursor = this.cursors[this.cursors.length - 1];
    this.listStatus.textContent = 'Loading…';
    try {
      const { body } = await apiJson('GET', JOBS_PATH, {
        query: { status: this.filter.value, limit: PAGE_SIZE, cursor },
      });
      const jobs = (Array.isArray(body.jobs) ? body.jobs : [])
        .map(parseJob)
        .filter((job): job is Job => job !== null);
      this.nextCursor = typeof body.next_cursor === 'string' ? body.next_cursor : null;
      this.renderList(jobs);
      const page = this.cursors.length;
      this.listStatus.textContent =
        jobs.length === 0
          ? 'No imports match.'
          : `Page ${page}: ${jobs.length} import${jobs.length === 1 ? '' : 's'}.`;
    } catch (error) {
      this.listStatus.textContent = messageOf(error);
    }
    this.newerButton.disabled = this.cursors.length <= 1;
    this.olderButton.disabled = this.nextCursor === null;
  }

  private renderList(jobs: readonly Job[]): void {
    fill(
      this.body,
      ...jobs.map((job) =>
        h(
          'tr',
          {
            'data-batch-id': job.batchId,
            'aria-current': job.batchId === this.selected?.batchId ? 'true' : undefined,
          },
          h('td', { 'data-label': 'File' }, this.openButton(job)),
          h('td', { 'data-label': 'Type' }, job.importType, job.dryRun ? ' (dry run)' : ''),
          h('td', { 'data-label': 'Status' }, statusBadge(job.status)),
          h('td', { 'data-label': 'Progress' }, progressText(job)),
          h('td', { 'data-label': 'Queued' }, formatInstant(job.queuedAt)),
        ),
      ),
    );
  }

  private openButton(job: Job): HTMLButtonElement {
    const button = h('button', { type: 'button', class: 'link' }, job.filename);
    button.addEventListener('click', () => void this.open(job.batchId, true));
    return button;
  }

  /** Shows one job and follows it while it runs. */
  async open(batchId: string, focus = false): Promise<void> {
    this.poller.stop();
    this.jobMessage.textContent = '';
    this.detailSection.hidden = false;
    try {
      const job = await this.fetchJob(batchId);
      this.renderDetail(job);
      if (isActive(job.status)) this.poller.start();
    } catch (error) {
      this.selected = null;
      fill(this.detail, h('p', { class: 'error' }, messageOf(error)));
      this.cancelButton.hidden = true;
      this.retryButton.hidden = true;
    }
    if (focus) this.detailTitle.focus();
  }

  private async fetchJob(batchId: string): Promise<Job> {
    const { body } = await apiJson('GET', `${JOBS_PATH}/${encodeURIComponent(batchId)}`);
    const job = parseJob(body);
    if (job === null) throw new ApiError(502, 'The API answered without a job', {});
    return job;
  }

  private async pollSelected(): Promise<PollOutcome> {
    const current = this.selected;
    if (current === null) return 'done';
    const job = await this.fetchJob(current.batchId);
    if (this.selected?.batchId !== job.batchId) return 'done';
    const changed = jobFingerprint(job) !== jobFingerprint(current);
    if (changed) this.renderDetail(job);
    if (isActive(job.status)) return changed ? 'changed' : 'unchanged';
    // It finished: the list row is stale too.
    void this.refreshPage();
    return 'done';
  }

  private async act(action: 'cancel' | 'retry'): Promise<void> {
    const job = this.selected;
    if (job === null) return;
    this.cancelButton.disabled = true;
    this.retryButton.disabled = true;
    try {
      const { body } = await apiJson('POST', `${JOBS_PATH}/${encodeURIComponent(job.batchId)}/${action}`);
      const updated = parseJob(body);
      if (updated !== null) this.renderDetail(updated);
      this.jobMessage.textContent = action === 'cancel' ? 'Import cancelled.' : 'Import queued again.';
      if (updated !== null && isActive(updated.status)) this.poller.start();
    } catch (error) {
      // 409: the job moved on (finished, or its file is gone). Say why and show where it is now.
      this.jobMessage.textContent = messageOf(error);
      if (error instanceof ApiError && error.status === 409) {
        const fresh = await this.fetchJob(job.batchId).catch(() => null);
        if (fresh !== null) this.renderDetail(fresh);
      }
    }
    if (this.selected !== null) this.setButtons(this.selected);
    void this.refreshPage();
  }

  private setButtons(job: Job): void {
    // Offered when the API would plausibly accept them; its 409 remains the judge.
    this.cancelButton.disabled = !isActive(job.status);
    this.retryButton.disabled = job.status !== 'failed' && job.status !== 'cancelled';
  }

  private renderDetail(job: Job): void {
    this.selected = job;
    this.detailTitle.textContent = `Import: ${job.filename}`;
    const percent = Math.max(0, Math.min(100, job.progressPercent));
    fill(
      this.detail,
      h(
        'dl',
        { class: 'facts' },
        fact('Status', statusBadge(job.status)),
        fact('Batch id', h('code', {}, job.batchId)),
        fact('Type', `${job.importType}${job.dryRun ? ' (dry run: nothing stored)' : ''}`),
        job.format === null ? null : fact('Layout', job.format),
        fact(
          'Rows',
          job.totalRows === null
            ? `${formatNumber(job.processedRows)} processed (total not known yet)`
            : `${formatNumber(job.processedRows)} of ${formatNumber(job.totalRows)} processed`,
        ),
        fact('Imported', formatNumber(job.importedRows)),
        fact('Failed rows', formatNumber(job.failedRows)),
        fact('Retries', `${job.retryCount} of ${job.maxRetries}`),
        fact('Queued', formatInstant(job.queuedAt)),
        fact('Started', formatInstant(job.startedAt)),
        fact('Finished', formatInstant(job.completedAt)),
      ),
      h(
        'div',
        { class: 'progress-row' },
        h('label', { for: 'job-progress' }, 'Progress'),
        h('progress', { id: 'job-progress', max: 100, value: percent }, `${percent}%`),
        h('span', {}, `${percent}%`),
      ),
      job.errorMessage === null ? null : h('p', { class: 'error' }, job.errorMessage),
      qualityBlock(job),
      rowErrorsBlock(job),
    );
    this.cancelButton.hidden = false;
    this.retryButton.hidden = false;
    this.setButtons(job);
    for (const row of this.body.querySelectorAll('tr')) {
      if (row.dataset.batchId === job.batchId) row.setAttribute('aria-current', 'true');
      else row.removeAttribute('aria-current');
    }
  }
}

function fact(term: string, value: Node | string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  fragment.append(h('dt', {}, term), h('dd', {}, value));
  return fragment;
}

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge status-${status.replace(/[^a-z_]/g, '')}` }, statusLabel(status));
}

function progressText(job: Job): string {
  if (job.totalRows === null) return job.processedRows > 0 ? `${formatNumber(job.processedRows)} rows` : '–';
  return `${job.progressPercent}%`;
}

function qualityBlock(job: Job): HTMLElement | null {
  const quality = job.quality;
  if (quality === null) return null;
  return h(
    'div',
    { class: 'quality' },
    h('h3', {}, 'Data quality'),
    h(
      'dl',
      { class: 'facts' },
      fact('Meter-days', formatNumber(quality.meterDays)),
      fact('Complete days', formatNumber(quality.completeDays)),
      fact('Missing half-hours', formatNumber(quality.missingPeriods)),
      fact('Duplicates in file', formatNumber(quality.duplicatesInFile)),
      fact('Estimated readings', formatNumber(quality.estimated)),
    ),
    quality.partial
      ? h('p', { class: 'hint' }, 'These figures cover only the rows of the last run (the job was resumed).')
      : null,
  );
}

function rowErrorsBlock(job: Job): HTMLElement | null {
  if (job.rowErrors.length === 0) return null;
  const shown = job.rowErrors.slice(0, ROW_ERRORS_SHOWN);
  return h(
    'div',
    { class: 'row-errors' },
    h(
      'h3',
      {},
      `Row errors (first ${shown.length} of ${formatNumber(Math.max(job.failedRows, job.rowErrors.length))})`,
    ),
    h('ul', {}, ...shown.map((message) => h('li', {}, message))),
  );
}
