// Polls while something runs: quickly at first, backing off while nothing changes, slowly while the
// tab is hidden, and at once when it becomes visible again. Each poll is one API call (one database
// connection), so an idle tab left open must cost next to nothing.

import { FIRST_DELAY_MS, nextDelayMs } from './poll-delay.js';

export type PollOutcome = 'changed' | 'unchanged' | 'done';

export class Poller {
  private timer: number | undefined;
  private delayMs = FIRST_DELAY_MS;
  private running = false;
  private generation = 0;
  private readonly onVisibility = () => {
    if (!document.hidden && this.running) this.schedule(0);
  };

  /**
   * `maxVisibleDelayMs` caps the back-off while the tab is visible; `firstDelayMs` is the wait before
   * the first poll (a caller that polls at a steady pace gives both the same value).
   */
  constructor(
    private readonly task: () => Promise<PollOutcome>,
    private readonly options: { readonly firstDelayMs?: number; readonly maxVisibleDelayMs?: number } = {},
  ) {}

  start(): void {
    this.stop();
    this.running = true;
    this.delayMs = this.options.firstDelayMs ?? FIRST_DELAY_MS;
    document.addEventListener('visibilitychange', this.onVisibility);
    this.schedule(this.delayMs);
  }

  stop(): void {
    this.running = false;
    this.generation++;
    if (this.timer !== undefined) window.clearTimeout(this.timer);
    this.timer = undefined;
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) window.clearTimeout(this.timer);
    const generation = this.generation;
    this.timer = window.setTimeout(() => void this.tick(generation), delayMs);
  }

  private async tick(generation: number): Promise<void> {
    this.timer = undefined;
    let outcome: PollOutcome;
    try {
      outcome = await this.task();
    } catch {
      outcome = 'unchanged';
    }
    // stop() or start() ran while the call was out: this chain is over.
    if (!this.running || generation !== this.generation) return;
    if (outcome === 'done') {
      this.stop();
      return;
    }
    this.delayMs = nextDelayMs(
      this.delayMs,
      outcome === 'changed',
      document.hidden,
      this.options.maxVisibleDelayMs,
    );
    this.schedule(this.delayMs);
  }
}
