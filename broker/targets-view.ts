import type { Logger } from '../shared/logger';
import type { AppMetrics } from '../shared/metrics';
import { REFUSAL_REASONS, Syncer, TargetSink } from '../shared/mirror/sync';
import type { Store } from '../shared/store/store';
import type { TargetSchemaOptions } from '../shared/targets/schema';
import type { TargetGroup } from '../shared/targets/types';

/** Target files held in memory, by binding id. */
class MemorySink implements TargetSink {
  readonly files = new Map<string, TargetGroup[]>();
  version = 0;

  async initial(): Promise<Map<string, { etag: string; size: number }>> {
    return new Map();
  }
  async write(id: string, body: string): Promise<void> {
    this.files.set(id, JSON.parse(body) as TargetGroup[]);
    this.version++;
  }
  async remove(id: string): Promise<void> {
    this.files.delete(id);
    this.version++;
  }
}

/** Longest a /targets answer may be behind the store; Prometheus polls every 30-60 s anyway. */
const FRESH_MS = 1000;

/**
 * All active target groups, for Prometheus' http_sd. A request costs one conditional GET of
 * the change marker at most once a second; the body is rebuilt only when a file changed.
 */
export class TargetsView {
  private readonly sink = new MemorySink();
  private readonly syncer: Syncer;
  private lastSync = 0;
  private inflight?: Promise<void>;
  private rendered?: { version: number; body: string };

  /**
   * Files that break the target file schema, exceed MAX_TARGET_FILE_BYTES (checked on the
   * listing's size, before any GET) or cannot be read are skipped, logged by key and counted;
   * the others are served as usual.
   */
  constructor(
    store: Store,
    log: Logger,
    private readonly metrics?: AppMetrics,
    schema: TargetSchemaOptions = {},
  ) {
    this.syncer = new Syncer(
      store,
      this.sink,
      { fullListIntervalMs: 300_000, maxRemoveShare: 0.5, minGuardedRemovals: 3, downloadConcurrency: 16, schema },
      log.child({ component: 'targets' }),
    );
  }

  async body(): Promise<string> {
    if (Date.now() - this.lastSync >= FRESH_MS) {
      this.inflight ??= this.syncer
        .syncOnce()
        .then((result) => {
          this.lastSync = Date.now();
          for (const reason of REFUSAL_REASONS)
            if (result.refused[reason] > 0)
              this.metrics?.invalidTargetFiles.inc({ reader: 'targets', reason }, result.refused[reason]);
        })
        .finally(() => {
          this.inflight = undefined;
        });
      await this.inflight;
    }
    if (this.rendered?.version !== this.sink.version) {
      const ids = [...this.sink.files.keys()].sort();
      this.rendered = {
        version: this.sink.version,
        body: JSON.stringify(ids.flatMap((id) => this.sink.files.get(id)!)),
      };
    }
    return this.rendered.body;
  }
}
