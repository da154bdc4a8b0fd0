import type { Logger } from '../shared/logger';
import type { AppMetrics } from '../shared/metrics';
import type { Plan } from './plan';

export interface RunSummary {
  ok: boolean;
  /** 'all': every binding; 'apps': the bindings of the apps audit events named. */
  scope: 'all' | 'apps';
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
  /** Targeted runs: apps an event said were deleted that the CC still shows (its delete is still going). */
  deletedButPresent?: string[];
}

export function emptySummary(scope: 'all' | 'apps' = 'all'): RunSummary {
  return {
    ok: false,
    scope,
    bindings: 0,
    apps: 0,
    written: 0,
    removed: 0,
    unchanged: 0,
    inactive: 0,
    ccRequests: 0,
    storeReads: 0,
    storeWrites: 0,
    durationMs: 0,
    strategy: 'none',
    confirmed: 0,
    refused: 0,
  };
}

/** A run that never started (the process is shutting down). */
export function notRunSummary(why: string): RunSummary {
  return { ...emptySummary(), error: why };
}

/** Bindings without a target file, counted by why (for bindingsWithoutTargets). */
export function inactiveByReason(plan: Plan): Map<string, number> {
  const counts = new Map<string, number>();
  for (const i of plan.inactive) counts.set(i.reason, (counts.get(i.reason) ?? 0) + 1);
  return counts;
}

/** Says, per binding, why its file is left as it is. */
export function logRefused(plan: Plan, log: Logger, metrics: AppMetrics | undefined): void {
  for (const r of plan.refused) {
    if (r.cause === 'implausible-app') {
      log.warn(
        { bindingId: r.bindingId, appGuid: r.appGuid, reason: r.reason },
        'implausible Cloud Controller answer for a bound app: its targets are left as they are',
      );
    } else {
      metrics?.refusedTargetWrites.inc({ writer: 'reconcile' });
      log.error(
        { bindingId: r.bindingId, appGuid: r.appGuid, problem: r.reason },
        'rendered target file breaks the target file schema: not written, the current file is left as it is',
      );
    }
  }
}

/** Lines logged per run for apps with ignored annotations; the rest are counted in one more line. */
const MAX_IGNORED_ANNOTATION_LINES = 20;

/**
 * Apps whose prometheus.io annotations had values that were ignored (their other targets were
 * rendered): counted per annotation on every run that sees them, logged with the reason.
 */
export function logIgnoredAnnotations(plan: Plan, log: Logger, metrics: AppMetrics | undefined): void {
  let lines = 0;
  for (const i of plan.ignoredAnnotations) {
    for (const a of i.ignored) metrics?.invalidAnnotations.inc({ annotation: a.annotation });
    if (++lines <= MAX_IGNORED_ANNOTATION_LINES) {
      log.warn(
        { bindingId: i.bindingId, appGuid: i.appGuid, ignored: i.ignored },
        'app annotations with invalid values were ignored; the rest of its targets are rendered',
      );
    }
  }
  if (lines > MAX_IGNORED_ANNOTATION_LINES)
    log.warn({ more: lines - MAX_IGNORED_ANNOTATION_LINES }, 'more bindings whose app has ignored annotations');
}

/** The error of a failed run; an abandoned one says how far it got. */
export function failureMessage(err: unknown, abandonedBecause: string | undefined, summary: RunSummary): string {
  if (abandonedBecause === undefined) return (err as Error).message;
  const changed =
    summary.written + summary.removed > 0
      ? `it had written ${summary.written} and removed ${summary.removed} target files, and stopped there`
      : 'nothing was changed';
  return `reconcile ${abandonedBecause}; ${changed}`;
}

export function reportMetrics(
  m: AppMetrics | undefined,
  summary: RunSummary,
  inactive: Map<string, number> | undefined,
): void {
  if (!m) return;
  m.reconcileRuns.inc({ outcome: summary.ok ? 'success' : 'failure' });
  m.reconcileDuration.observe(summary.durationMs / 1000);
  m.filesWritten.inc(summary.written);
  if (!summary.ok) return;
  m.reconcileLastSuccess.set(Date.now() / 1000);
  m.bindings.set(summary.bindings);
  m.bindingsRefused.set(summary.refused);
  m.bindingsWithoutTargets.reset();
  for (const [reason, count] of inactive ?? []) m.bindingsWithoutTargets.set({ reason }, count);
}

/** A targeted run leaves the gauges of the full runs alone: it saw only some bindings. */
export function reportTargetedMetrics(m: AppMetrics | undefined, summary: RunSummary): void {
  if (!m) return;
  m.targetedRuns.inc({ outcome: summary.ok ? 'success' : 'failure' });
  m.filesWritten.inc(summary.written);
}
