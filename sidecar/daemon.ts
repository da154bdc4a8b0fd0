import type { Logger } from '../shared/logger';
import type { SidecarMetrics } from './metrics';
import type { Syncer } from '../shared/mirror/sync';

export interface DaemonOptions {
  intervalMs: number;
  /** Longest wait between attempts while the store keeps failing. */
  maxBackoffMs: number;
}

/**
 * Polls forever. While the store fails, every local file stays, attempts back off
 * exponentially, and the last-success metric shows how stale the directory is.
 */
export class SidecarDaemon {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failures = 0;
  private running?: Promise<void>;

  constructor(
    private readonly syncer: Syncer,
    private readonly metrics: SidecarMetrics,
    private readonly opts: DaemonOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.poll().finally(() => {
      if (this.stopped) return;
      const wait =
        this.failures === 0
          ? this.opts.intervalMs
          : Math.min(this.opts.maxBackoffMs, this.opts.intervalMs * 2 ** this.failures);
      this.timer = setTimeout(() => this.tick(), wait);
    });
  }

  private async poll(): Promise<void> {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const r = await this.syncer.syncOnce();
      this.metrics.success(r, seconds());
      if (this.failures > 0) this.log.info({ after: this.failures }, 'store reachable again');
      this.failures = 0;
      if (r.written || r.removed || r.invalid || r.held) this.log.info(r, 'synced target files');
    } catch (err) {
      this.failures++;
      this.metrics.failure(seconds());
      this.log.error(
        { err: (err as Error).message, failures: this.failures },
        'sync failed; keeping every local target file',
      );
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
