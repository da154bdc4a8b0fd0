import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The reasons of cf_app_discovery_event_poll_failures_total, as its help names them. */
export const FOLLOWER_POLL_FAILURE_REASONS = [
  'forbidden',
  'not_found',
  'throttled',
  'server_error',
  'timeout',
  'invalid',
  'unreachable',
  'unauthorized',
  'other',
] as const;
/** The states of cf_app_discovery_event_follower_state. */
export const FOLLOWER_STATES = ['following', 'catching_up', 'unavailable', 'off'] as const;

/** CC paths as bounded label values: guids become `:guid`. */
export function ccEndpoint(path: string): string {
  return path.replace(/\/v3\/(\w+)\/[^/]+/g, '/v3/$1/:guid');
}

/**
 * The metrics of a broker or updater process (cf_app_discovery_*), one registry per process.
 * Everything that counts lives here so names and labels stay consistent across parts.
 */
export class AppMetrics {
  readonly registry = new Registry();
  private readonly r = [this.registry];
  readonly osbRequests = new Counter({
    name: 'cf_app_discovery_osb_requests_total',
    help: 'OSB requests by operation and HTTP status',
    labelNames: ['operation', 'status'],
    registers: this.r,
  });
  readonly osbDuration = new Histogram({
    name: 'cf_app_discovery_osb_request_duration_seconds',
    help: 'OSB request duration by operation',
    labelNames: ['operation'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: this.r,
  });
  readonly ccRequests = new Counter({
    name: 'cf_app_discovery_cc_requests_total',
    help: 'Cloud Controller requests by endpoint and status (0: no answer)',
    labelNames: ['endpoint', 'status'],
    registers: this.r,
  });
  readonly ccDuration = new Histogram({
    name: 'cf_app_discovery_cc_request_duration_seconds',
    help: 'Cloud Controller request latency by endpoint',
    labelNames: ['endpoint'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: this.r,
  });
  readonly storeOperations = new Counter({
    name: 'cf_app_discovery_store_operations_total',
    help: 'Store operations by kind and outcome',
    labelNames: ['operation', 'outcome'],
    registers: this.r,
  });
  readonly reconcileRuns = new Counter({
    name: 'cf_app_discovery_reconcile_runs_total',
    help: 'Reconcile runs by outcome',
    labelNames: ['outcome'],
    registers: this.r,
  });
  readonly reconcileDuration = new Histogram({
    name: 'cf_app_discovery_reconcile_duration_seconds',
    help: 'Reconcile run duration',
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: this.r,
  });
  readonly reconcileLastSuccess = new Gauge({
    name: 'cf_app_discovery_reconcile_last_success_timestamp_seconds',
    help: 'Unix time of the last successful reconcile',
    registers: this.r,
  });
  readonly filesWritten = new Counter({
    name: 'cf_app_discovery_target_files_written_total',
    help: 'Target files written by reconcile runs',
    registers: this.r,
  });
  readonly filesRemoved = new Counter({
    name: 'cf_app_discovery_target_files_removed_total',
    help: 'Target files removed by reconcile runs',
    labelNames: ['reason'],
    registers: this.r,
  });
  readonly bindingsWithoutTargets = new Gauge({
    name: 'cf_app_discovery_bindings_without_targets',
    help: 'Bindings that have no target file, by reason, as of the last successful reconcile',
    labelNames: ['reason'],
    registers: this.r,
  });
  readonly invalidAnnotations = new Counter({
    name: 'cf_app_discovery_invalid_annotations_total',
    help: 'prometheus.io annotations of bound apps whose values were ignored (the rest of the targets rendered), by annotation; counted on every bind and reconcile that sees one',
    labelNames: ['annotation'],
    registers: this.r,
  });
  readonly invalidTargetFiles = new Counter({
    name: 'cf_app_discovery_invalid_target_files_total',
    help: 'Target files in the store refused on read (never served), by reader (targets: GET /targets; binding_fetch) and reason (invalid, too_large, not_regular, read_failed)',
    labelNames: ['reader', 'reason'],
    registers: this.r,
  });
  readonly refusedTargetWrites = new Counter({
    name: 'cf_app_discovery_target_files_refused_total',
    help: 'Rendered target files that broke the target file schema and were not written, by writer (bind, reconcile)',
    labelNames: ['writer'],
    registers: this.r,
  });
  readonly corruptRecordReads = new Counter({
    name: 'cf_app_discovery_corrupt_records_total',
    help: 'Records read from the store that are not valid (bad JSON, fields, parameters, too large), by kind (binding, instance)',
    labelNames: ['kind'],
    registers: this.r,
  });
  readonly corruptRecords = new Gauge({
    name: 'cf_app_discovery_corrupt_records',
    help: 'Corrupt records in the store as of the last reconcile; their targets are left as they are',
    registers: this.r,
  });
  readonly bindings = new Gauge({
    name: 'cf_app_discovery_bindings',
    help: 'Binding records as of the last successful reconcile',
    registers: this.r,
  });
  readonly bindingsRefused = new Gauge({
    name: 'cf_app_discovery_bindings_refused',
    help: 'Bindings whose target files were left as they are in the last successful reconcile: the Cloud Controller describes their app implausibly (e.g. more than 5000 instances), or the file rendered from it breaks the target file schema',
    registers: this.r,
  });

  readonly auditEvents = new Counter({
    name: 'cf_app_discovery_audit_events_total',
    help: 'Audit events the follower read from the Cloud Controller, by type and whether they named a bound app (relevant: true, false)',
    labelNames: ['type', 'relevant'],
    registers: this.r,
  });
  readonly targetedRuns = new Counter({
    name: 'cf_app_discovery_targeted_reconcile_runs_total',
    help: 'Reconcile runs for the apps named by audit events, by outcome (success, failure)',
    labelNames: ['outcome'],
    registers: this.r,
  });
  readonly followerLag = new Gauge({
    name: 'cf_app_discovery_event_follower_lag_seconds',
    help: "Seconds from the newest audit event the follower has handled (the Cloud Controller's created_at) to now",
    registers: this.r,
  });
  readonly followerLastPoll = new Gauge({
    name: 'cf_app_discovery_event_follower_last_success_timestamp_seconds',
    help: 'Unix time of the last successful poll of the audit events',
    registers: this.r,
  });
  readonly followerPollFailures = new Counter({
    name: 'cf_app_discovery_event_poll_failures_total',
    help: 'Failed polls of the audit events, by reason (forbidden, not_found, throttled, server_error, timeout, invalid, unreachable, unauthorized, other)',
    labelNames: ['reason'],
    registers: this.r,
  });
  readonly followerState = new Gauge({
    name: 'cf_app_discovery_event_follower_state',
    help: 'The follower state: 1 for the current one of following, catching_up (a full reconcile after a gap), unavailable (403/404: only the schedule runs), off',
    labelNames: ['state'],
    registers: this.r,
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cf_app_discovery_process_' });
    // The follower's bounded label sets start at 0: the first poll failure or targeted run is
    // then an increase rate() and increase() can see (a series born at 1 shows none), and the
    // dashboard shows 0 rather than "no data" before the first event.
    for (const reason of FOLLOWER_POLL_FAILURE_REASONS) this.followerPollFailures.inc({ reason }, 0);
    for (const outcome of ['success', 'failure']) this.targetedRuns.inc({ outcome }, 0);
    for (const state of FOLLOWER_STATES) this.followerState.set({ state }, 0);
  }

  /** For CloudControllerClient's onRequest hook. */
  readonly onCcRequest = (info: { path: string; status: number; durationMs: number }): void => {
    const endpoint = ccEndpoint(info.path);
    this.ccRequests.inc({ endpoint, status: String(info.status) });
    this.ccDuration.observe({ endpoint }, info.durationMs / 1000);
  };
}
