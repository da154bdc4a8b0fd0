import type { CloudControllerClient } from '../shared/cc';
import type { Logger } from '../shared/logger';
import type { AppMetrics } from '../shared/metrics';
import { BindingRecord, InstanceRecord, MAX_RECORD_BYTES, parseBindingRecord, parseInstanceRecord } from '../shared/records/records';
import { ACTIVE_PREFIX, activeKey, BINDINGS_PREFIX, idFromKey, INSTANCES_PREFIX } from '../shared/store/keys';
import { bumpActiveMarker } from '../shared/store/marker';
import type { Store } from '../shared/store/store';
import { inParallel } from '../shared/parallel';
import { abortReason } from '../shared/cc/http';
import { observeApps } from './observe';
import { AppObservation, appsActedOn, planReconcile } from './plan';
import { RecordCache } from './record-cache';

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
}

export const DEFAULT_RECONCILE_TIMEOUT_MS = 240_000;
/** On shutdown a run in flight gets this long to finish, then is abandoned: CF kills 10 s after SIGTERM. */
export const SHUTDOWN_RUN_GRACE_MS = 5_000;

export interface RunSummary {
  ok: boolean;
  error?: string;
  bindings: number;
  apps: number;
  written: number;
  removed: number;
  unchanged: number;
  inactive: number;
  ccRequests: number;
  storeReads: number;
  storeWrites: number;
  durationMs: number;
  strategy: string;
  /** Bound apps re-read by guid because a paged listing alone would have changed their files. */
  confirmed: number;
  /**
   * Bindings left as they are: their app's CC answer is implausible, or the file rendered from
   * it broke the target file schema and was not written.
   */
  refused: number;
}

/** Makes `active/` match what the CC says about every bound app; see plan.ts for the rules. */
export class Reconciler {
  private readonly bindings: RecordCache<BindingRecord>;
  private readonly instances: RecordCache<InstanceRecord>;
  private inflight?: Promise<RunSummary>;
  /** Aborts the run in flight (its CC requests at once; its writes before the next one). */
  private abortRun?: AbortController;
  private readonly now: () => number;

  constructor(private readonly opts: ReconcilerOptions) {
    this.bindings = new RecordCache(opts.store, parseBindingRecord, MAX_RECORD_BYTES);
    this.instances = new RecordCache(opts.store, parseInstanceRecord, MAX_RECORD_BYTES);
    this.now = opts.now ?? Date.now;
  }

  /** Single flight: a call while a run is going joins that run. */
  run(): Promise<RunSummary> {
    this.inflight ??= this.runOnce().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Resolves when no run is in flight. */
  async whenIdle(): Promise<void> {
    await this.inflight?.catch(() => undefined);
  }

  /** For a shutdown: a run in flight gets `graceMs` to finish, then is abandoned; resolves when none is left. */
  async shutdown(graceMs = SHUTDOWN_RUN_GRACE_MS): Promise<void> {
    if (!this.inflight) return;
    const timer = setTimeout(() => this.abortRun?.abort(new Error('abandoned as the process shuts down')), graceMs);
    try {
      await this.whenIdle();
    } finally {
      clearTimeout(timer);
    }
  }

  private async runOnce(): Promise<RunSummary> {
    const started = this.now();
    const ccBefore = this.opts.cc.requestCount;
    const readsBefore = this.bindings.reads + this.instances.reads;
    const summary: RunSummary = { ok: false, bindings: 0, apps: 0, written: 0, removed: 0, unchanged: 0, inactive: 0, ccRequests: 0, storeReads: 0, storeWrites: 0, durationMs: 0, strategy: 'none', confirmed: 0, refused: 0 };
    const log = this.opts.logger;
    const concurrency = this.opts.concurrency ?? 8;
    let inactiveByReason: Map<string, number> | undefined;
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_RECONCILE_TIMEOUT_MS;
    const abort = (this.abortRun = new AbortController());
    const { signal } = abort;
    const deadline = setTimeout(() => abort.abort(new Error(`gave up after ${timeoutMs / 1000} s (RECONCILE_TIMEOUT_SECONDS)`)), timeoutMs);
    /** Throws once the run is abandoned: checked before each store write, so none starts after. */
    const stillWanted = () => {
      if (signal.aborted) throw new Error(abortReason(signal));
    };
    try {
      const { store } = this.opts;
      // active/ first: a file listed here whose record appears in the later bindings listing is
      // never mistaken for a leftover.
      const activeListing = await store.list(ACTIVE_PREFIX);
      const [bindingListing, instanceListing] = await Promise.all([store.list(BINDINGS_PREFIX), store.list(INSTANCES_PREFIX)]);
      const onCorrupt = (key: string, err: unknown) => {
        this.opts.metrics?.corruptRecordReads.inc({ kind: key.startsWith(BINDINGS_PREFIX) ? 'binding' : 'instance' });
        log.error({ key, err: (err as Error).message }, 'corrupt record in the store: its targets are left as they are');
      };
      const bindingRecords = await this.bindings.load(bindingListing, concurrency, onCorrupt);
      const instanceRecords = await this.instances.load(instanceListing, concurrency, onCorrupt);
      // Corrupt records (unreadable, too large, parameters that break the published schema)
      // map to undefined, in this run and in later ones that reuse the cache.
      const corruptBindings = [...bindingRecords].filter(([, b]) => b === undefined).map(([key]) => key);
      const corruptInstances = new Set([...instanceRecords].filter(([, i]) => i === undefined)
        .map(([key]) => idFromKey(INSTANCES_PREFIX, key)).filter((id): id is string => !!id));
      this.opts.metrics?.corruptRecords.set(corruptBindings.length + corruptInstances.size);
      const readable = [...bindingRecords.values()].filter((b): b is BindingRecord => b !== undefined);
      // A binding whose instance record is corrupt cannot be rendered either: as if its own were.
      const bindings = readable.filter((b) => !corruptInstances.has(b.instance_id));
      const protectedIds = new Set([
        ...corruptBindings.map((k) => idFromKey(BINDINGS_PREFIX, k)).filter((id): id is string => !!id),
        ...readable.filter((b) => corruptInstances.has(b.instance_id)).map((b) => b.binding_id),
      ]);
      const instances = new Map([...instanceRecords.values()].filter((i): i is InstanceRecord => !!i).map((i) => [i.instance_id, i]));
      summary.bindings = bindings.length;

      const appGuids = [...new Set(bindings.map((b) => b.app_guid))];
      summary.apps = appGuids.length;
      const observeOpts = { chunkSize: this.opts.chunkSize, concurrency: this.opts.concurrency ?? 4, signal };
      const observation = await observeApps(this.opts.cc, appGuids, observeOpts);
      summary.strategy = observation.strategy;

      const active = new Map<string, string>();
      const young = new Set<string>();
      const grace = this.opts.leftoverGraceMs ?? 120_000;
      for (const o of activeListing) {
        const id = idFromKey(ACTIVE_PREFIX, o.key);
        if (!id || protectedIds.has(id)) continue;
        active.set(id, o.etag);
        if (this.now() - o.lastModified.getTime() < grace) young.add(id);
      }
      const planFor = (apps: Map<string, AppObservation>) => planReconcile({ bindings, instances, apps, active });
      let plan = planFor(observation.apps);
      if (observation.strategy === 'full') {
        // The platform changed while we paged: an app, its web process or its route may have
        // moved to a page already read. Whatever the listings would change is re-read by guid.
        const suspects = appsActedOn(plan, bindings);
        if (suspects.length > 0) {
          const confirmed = await observeApps(this.opts.cc, suspects, { ...observeOpts, strategy: 'by-guid' });
          for (const [guid, o] of confirmed.apps) observation.apps.set(guid, o);
          summary.confirmed = suspects.length;
          plan = planFor(observation.apps);
        }
      }
      const gone = [...observation.apps.values()].filter((a) => a.kind === 'gone').length;
      const maxGone = this.opts.maxGoneShare ?? 0.5;
      if (gone >= 5 && gone > maxGone * appGuids.length) {
        throw new Error(`${gone} of ${appGuids.length} bound apps are missing from the Cloud Controller at once; refusing to remove their targets (has the broker's CF user lost its roles?)`);
      }
      inactiveByReason = new Map();
      for (const i of plan.inactive) inactiveByReason.set(i.reason, (inactiveByReason.get(i.reason) ?? 0) + 1);
      summary.unchanged = plan.unchanged;
      summary.refused = plan.refused.length;
      for (const r of plan.refused) {
        if (r.cause === 'implausible-app') {
          log.warn({ bindingId: r.bindingId, appGuid: r.appGuid, reason: r.reason }, 'implausible Cloud Controller answer for a bound app: its targets are left as they are');
        } else {
          this.opts.metrics?.refusedTargetWrites.inc({ writer: 'reconcile' });
          log.error({ bindingId: r.bindingId, appGuid: r.appGuid, problem: r.reason }, 'rendered target file breaks the target file schema: not written, the current file is left as it is');
        }
      }
      summary.inactive = plan.inactive.length;

      const boundIds = async () => new Set((await store.list(BINDINGS_PREFIX)).map((o) => idFromKey(BINDINGS_PREFIX, o.key)));
      stillWanted();
      // Bindings unbound while we asked the CC must not get their file back.
      const stillBound = await boundIds();
      const writes = plan.writes.filter((w) => stillBound.has(w.bindingId));
      const removals = plan.removals.filter((r) => !(r.reason === 'no-binding-record' && (young.has(r.bindingId) || stillBound.has(r.bindingId))));
      // Only a crashed bind leaves a file without its record, one at a time. Many at once means
      // the store answered with an incomplete bindings/ listing, or records were lost: deleting
      // would take live targets away from Prometheus.
      const leftovers = removals.filter((r) => r.reason === 'no-binding-record').length;
      if (leftovers >= 5 && leftovers > maxGone * active.size) {
        throw new Error(`${leftovers} of ${active.size} target files have no binding record at once; refusing to remove them (did the store list bindings/ incompletely, or were binding records deleted?)`);
      }
      try {
        stillWanted();
        await inParallel(writes.map((w) => async () => {
          stillWanted();
          await store.put(activeKey(w.bindingId), w.body);
          summary.written++;
        }), concurrency);
        // An unbind that landed between the listing above and our put got its file back.
        // Unbind deletes the file again after its record, so a record still listed now is
        // one whose unbind has yet to clean up; a record gone now means we must.
        const boundNow = writes.length > 0 ? await boundIds() : stillBound;
        const unboundMeanwhile = writes.filter((w) => !boundNow.has(w.bindingId)).map((w) => ({ bindingId: w.bindingId, reason: 'unbound-during-run' }));
        await inParallel([...unboundMeanwhile, ...removals].map((r) => async () => {
          stillWanted();
          await store.delete(activeKey(r.bindingId));
          summary.removed++;
          this.opts.metrics?.filesRemoved.inc({ reason: r.reason });
          log.info({ bindingId: r.bindingId, reason: r.reason }, 'targets removed');
        }), concurrency);
      } finally {
        // Even a run that failed half-way changed files: sidecars must hear about them.
        summary.storeWrites = summary.written + summary.removed;
        if (summary.storeWrites > 0) {
          await bumpActiveMarker(store, 'updater', log);
          summary.storeWrites++;
        }
      }
      summary.ok = true;
    } catch (err) {
      summary.ok = false;
      summary.error = signal.aborted
        ? `reconcile ${abortReason(signal)}; ${summary.written + summary.removed > 0 ? `it had written ${summary.written} and removed ${summary.removed} target files, and stopped there` : 'nothing was changed'}`
        : (err as Error).message;
      log.error({ err: summary.error }, 'reconcile failed; the store keeps what it had');
    } finally {
      clearTimeout(deadline);
      if (this.abortRun === abort) this.abortRun = undefined;
      summary.ccRequests = this.opts.cc.requestCount - ccBefore;
      summary.storeReads = this.bindings.reads + this.instances.reads - readsBefore;
      summary.durationMs = this.now() - started;
    }
    if (summary.ok) log.info(summary, 'reconcile finished');
    this.report(summary, inactiveByReason);
    return summary;
  }

  private report(summary: RunSummary, inactiveByReason: Map<string, number> | undefined): void {
    const m = this.opts.metrics;
    if (!m) return;
    m.reconcileRuns.inc({ outcome: summary.ok ? 'success' : 'failure' });
    m.reconcileDuration.observe(summary.durationMs / 1000);
    m.filesWritten.inc(summary.written);
    if (!summary.ok) return;
    m.reconcileLastSuccess.set(Date.now() / 1000);
    m.bindings.set(summary.bindings);
    m.bindingsRefused.set(summary.refused);
    m.bindingsWithoutTargets.reset();
    for (const [reason, count] of inactiveByReason ?? []) m.bindingsWithoutTargets.set({ reason }, count);
  }
}
