import type { CloudControllerClient } from '../shared/cc';
import { abortReason } from '../shared/cc/http';
import type { Logger } from '../shared/logger';
import type { AppMetrics } from '../shared/metrics';
import {
  BindingRecord,
  InstanceRecord,
  MAX_RECORD_BYTES,
  parseBindingRecord,
  parseInstanceRecord,
} from '../shared/records/records';
import { BINDINGS_PREFIX } from '../shared/store/keys';
import type { Store } from '../shared/store/store';
import { applyChanges } from './apply';
import { confirmByGuid, observeApps } from './observe';
import { AppObservation, appsActedOn, planReconcile } from './plan';
import { listBoundIds, readStore } from './read';
import { RecordCache } from './record-cache';
import { RouteIndex } from './route-index';
import { RunQueue, Scope } from './run-queue';
import {
  changesToApply,
  currentFiles,
  DEFAULT_LEFTOVER_GRACE_MS,
  DEFAULT_MAX_GONE_SHARE,
  heldInTargetedRun,
  vanishRefusal,
} from './removals';
import type { RenderSettings } from '../shared/targets/options';
import {
  emptySummary,
  failureMessage,
  inactiveByReason,
  logIgnoredAnnotations,
  logRefused,
  notRunSummary,
  reportMetrics,
  reportTargetedMetrics,
  RunSummary,
} from './report';

export type { RunSummary } from './report';

export interface ReconcilerOptions {
  store: Store;
  cc: CloudControllerClient;
  logger: Logger;
  chunkSize?: number;
  concurrency?: number;
  /** A leftover `active/` file younger than this may belong to a bind in progress. */
  leftoverGraceMs?: number;
  /** More bound apps than this share vanishing in one run looks like lost access, not deletes. */
  maxGoneShare?: number;
  now?: () => number;
  metrics?: AppMetrics;
  /** A run still going after this long gives up (RECONCILE_TIMEOUT_SECONDS; default 240 s). */
  timeoutMs?: number;
  /** APP_LABELS and the scrape bounds (defaults when absent). */
  rendering?: RenderSettings;
}

export const DEFAULT_RECONCILE_TIMEOUT_MS = 240_000;
/** On shutdown a run in flight gets this long to finish, then is abandoned: CF kills 10 s after SIGTERM. */
export const SHUTDOWN_RUN_GRACE_MS = 5_000;

/**
 * Makes `active/` match what the CC says about every bound app (a full run), or about some of
 * them (a targeted run, for the apps audit events named); see plan.ts and removals.ts for the rules.
 */
export class Reconciler {
  private readonly bindings: RecordCache<BindingRecord>;
  private readonly instances: RecordCache<InstanceRecord>;
  private readonly queue = new RunQueue<RunSummary>((scope) => this.runOnce(scope), notRunSummary);
  /** Which bound apps each route was mapped to, as last observed. */
  readonly routes = new RouteIndex();
  /** Aborts the run in flight (its CC requests at once; its writes before the next one). */
  private abortRun?: AbortController;
  private readonly now: () => number;

  constructor(private readonly opts: ReconcilerOptions) {
    this.bindings = new RecordCache(opts.store, parseBindingRecord, MAX_RECORD_BYTES);
    this.instances = new RecordCache(opts.store, parseInstanceRecord, MAX_RECORD_BYTES);
    this.now = opts.now ?? Date.now;
  }

  /** A full run. Single flight: a call while a full run is going joins it; never two runs at once. */
  run(): Promise<RunSummary> {
    return this.queue.full();
  }

  /**
   * A targeted run over the bindings of `apps` (true: an audit event says the app was deleted).
   * Calls while a run is going merge into one that starts after it.
   */
  runFor(apps: ReadonlyMap<string, boolean>): Promise<RunSummary> {
    return this.queue.targeted(apps);
  }

  /** The apps binding records name now (records are read through the cache: unchanged ones are not read again). */
  async boundApps(): Promise<Set<string>> {
    const records = await this.bindings.load(await this.opts.store.list(BINDINGS_PREFIX), 8, () => undefined);
    return new Set([...records.values()].filter((b): b is BindingRecord => !!b).map((b) => b.app_guid));
  }

  /** Resolves when no run is in flight. */
  async whenIdle(): Promise<void> {
    await this.queue.idle();
  }

  /** For a shutdown: no run starts any more; one in flight gets `graceMs` to finish, then is abandoned. */
  async shutdown(graceMs = SHUTDOWN_RUN_GRACE_MS): Promise<void> {
    this.queue.close('not run: the process is shutting down');
    if (!this.queue.busy) return;
    const timer = setTimeout(() => this.abortRun?.abort(new Error('abandoned as the process shuts down')), graceMs);
    try {
      await this.whenIdle();
    } finally {
      clearTimeout(timer);
    }
  }

  /** read -> observe -> plan -> apply -> report; every decision in between is a pure function. */
  private async runOnce(scope: Scope): Promise<RunSummary> {
    const { store, cc, logger: log, metrics } = this.opts;
    const started = this.now();
    const ccBefore = cc.requestCount;
    const readsBefore = this.storeReads();
    const summary = emptySummary(scope.kind);
    const targeted = scope.kind === 'apps' ? scope.apps : undefined;
    const concurrency = this.opts.concurrency ?? 8;
    const maxGoneShare = this.opts.maxGoneShare ?? DEFAULT_MAX_GONE_SHARE;
    let inactive: Map<string, number> | undefined;
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_RECONCILE_TIMEOUT_MS;
    const abort = (this.abortRun = new AbortController());
    const { signal } = abort;
    const deadline = setTimeout(
      () => abort.abort(new Error(`gave up after ${timeoutMs / 1000} s (RECONCILE_TIMEOUT_SECONDS)`)),
      timeoutMs,
    );
    /** Throws once the run is abandoned: checked before each store write, so none starts after. */
    const stillWanted = () => {
      if (signal.aborted) throw new Error(abortReason(signal));
    };
    try {
      // read
      const view = await readStore(
        store,
        { bindings: this.bindings, instances: this.instances },
        concurrency,
        (key, err) => {
          metrics?.corruptRecordReads.inc({ kind: key.startsWith(BINDINGS_PREFIX) ? 'binding' : 'instance' });
          log.error(
            { key, err: (err as Error).message },
            'corrupt record in the store: its targets are left as they are',
          );
        },
      );
      metrics?.corruptRecords.set(view.corruptRecords);
      const { instances } = view;
      let bindings = targeted ? view.bindings.filter((b) => targeted.has(b.app_guid)) : view.bindings;
      summary.bindings = bindings.length;
      const appGuids = [...new Set(bindings.map((b) => b.app_guid))];
      summary.apps = appGuids.length;

      // observe
      const observeOpts = { chunkSize: this.opts.chunkSize, concurrency: this.opts.concurrency ?? 4, signal };
      const observation = await observeApps(cc, appGuids, observeOpts);
      summary.strategy = observation.strategy;
      const files = currentFiles(
        view.activeListing,
        view.protectedIds,
        this.now(),
        this.opts.leftoverGraceMs ?? DEFAULT_LEFTOVER_GRACE_MS,
      );
      if (targeted) {
        const held = heldInTargetedRun(observation.apps, targeted);
        summary.deletedButPresent = [...targeted]
          .filter(([app, deleted]) => deleted && observation.apps.get(app)?.kind === 'present')
          .map(([app]) => app);
        if (held.size > 0) {
          log.info(
            { apps: [...held] },
            'apps missing from the Cloud Controller without a delete event: their targets are left to the next full reconcile',
          );
        }
        bindings = bindings.filter((b) => !held.has(b.app_guid));
        // Only the files of the bindings in scope: leftovers and the rest are the full run's business.
        const inScope = new Set(bindings.map((b) => b.binding_id));
        for (const id of [...files.active.keys()]) if (!inScope.has(id)) files.active.delete(id);
      }
      const planFor = (apps: Map<string, AppObservation>) =>
        planReconcile({ bindings, instances, apps, active: files.active, rendering: this.opts.rendering });
      // plan: on what the CC said; again only when a re-read by guid (of what the unfiltered
      // listings would change: their pages slide while the platform changes) changed it.
      let plan = planFor(observation.apps);
      if (observation.strategy === 'full') {
        summary.confirmed = await confirmByGuid(cc, observation, appsActedOn(plan, bindings), observeOpts);
        if (summary.confirmed > 0) plan = planFor(observation.apps);
      }
      if (!targeted) {
        const vanished = vanishRefusal(observation.apps, appGuids.length, maxGoneShare);
        if (vanished) throw new Error(vanished);
        this.routes.replaceAll(observation.routeApps);
      } else this.routes.replaceFor(appGuids, observation.routeApps);
      inactive = inactiveByReason(plan);
      summary.unchanged = plan.unchanged;
      summary.refused = plan.refused.length;
      logRefused(plan, log, metrics);
      logIgnoredAnnotations(plan, log, metrics);
      summary.inactive = plan.inactive.length;
      stillWanted();
      const stillBound = await listBoundIds(store);
      const changes = changesToApply(plan, files, stillBound, maxGoneShare);
      if (changes.refusal !== undefined) throw new Error(changes.refusal);

      // apply
      await applyChanges(
        { store, logger: log, metrics, concurrency, stillWanted, done: summary },
        changes.writes,
        changes.removals,
        stillBound,
      );
      summary.ok = true;
    } catch (err) {
      summary.ok = false;
      summary.error = failureMessage(err, signal.aborted ? abortReason(signal) : undefined, summary);
      log.error({ err: summary.error }, 'reconcile failed; the store keeps what it had');
    } finally {
      clearTimeout(deadline);
      if (this.abortRun === abort) this.abortRun = undefined;
      summary.ccRequests = cc.requestCount - ccBefore;
      summary.storeReads = this.storeReads() - readsBefore;
      summary.durationMs = this.now() - started;
    }

    // report
    if (targeted) {
      if (summary.ok) log.info(summary, 'targeted reconcile finished');
      reportTargetedMetrics(metrics, summary);
    } else {
      if (summary.ok) log.info(summary, 'reconcile finished');
      reportMetrics(metrics, summary, inactive);
    }
    return summary;
  }

  private storeReads(): number {
    return this.bindings.reads + this.instances.reads;
  }
}
