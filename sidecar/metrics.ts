import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { REFUSAL_REASONS, SyncResult } from '../shared/mirror/sync';

/** The sidecar's own health, for the "sidecar stale" and "no file_sd targets" alerts. */
export class SidecarMetrics {
  readonly registry = new Registry();
  private readonly lastSuccess = new Gauge({
    name: 'cf_app_discovery_sidecar_last_success_timestamp_seconds',
    help: 'Unix time of the last successful sync with the store',
    registers: [this.registry],
  });
  private readonly files = new Gauge({
    name: 'cf_app_discovery_sidecar_files',
    help: 'Target files in the file_sd directory',
    registers: [this.registry],
  });
  private readonly bytes = new Gauge({
    name: 'cf_app_discovery_sidecar_bytes',
    help: 'Bytes of target files in the file_sd directory',
    registers: [this.registry],
  });
  private readonly held = new Gauge({
    name: 'cf_app_discovery_sidecar_held_removals',
    help: 'Removals held back until a later listing confirms them',
    registers: [this.registry],
  });
  private readonly invalid = new Counter({
    name: 'cf_app_discovery_sidecar_invalid_objects_total',
    help: "Store objects not mirrored, by reason: invalid (not a target file of this service's schema), too_large, not_regular, read_failed",
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly refused = new Counter({
    name: 'cf_app_discovery_sidecar_refused_keys_total',
    help: 'Store keys refused because they do not map to a safe file name',
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'cf_app_discovery_sidecar_sync_errors_total',
    help: 'Syncs that failed (store unreachable or failing)',
    registers: [this.registry],
  });
  private readonly written = new Counter({
    name: 'cf_app_discovery_sidecar_files_written_total',
    help: 'Target files written',
    registers: [this.registry],
  });
  private readonly removed = new Counter({
    name: 'cf_app_discovery_sidecar_files_removed_total',
    help: 'Target files removed',
    registers: [this.registry],
  });
  private readonly requests = new Counter({
    name: 'cf_app_discovery_sidecar_store_requests_total',
    help: 'Requests made to the store',
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'cf_app_discovery_sidecar_sync_duration_seconds',
    help: 'Duration of one sync',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  success(r: SyncResult, seconds: number, now = Date.now()): void {
    this.lastSuccess.set(now / 1000);
    this.files.set(r.files);
    this.bytes.set(r.bytes);
    this.held.set(r.held);
    for (const reason of REFUSAL_REASONS) this.invalid.inc({ reason }, r.refused[reason]);
    this.refused.inc(r.refusedKeys);
    this.written.inc(r.written);
    this.removed.inc(r.removed);
    this.requests.inc(r.storeRequests);
    this.duration.observe(seconds);
  }

  failure(seconds: number): void {
    this.errors.inc();
    this.duration.observe(seconds);
  }
}
