import { age, CheckResult, result } from './report';
import type { StoreView } from './store-view';

/** The alert CfAppDiscoveryReconcileNotSucceeding fires after this long without a success. */
export const RECONCILE_FAIL_AFTER_MS = 30 * 60_000;
const METRIC = 'cf_app_discovery_reconcile_last_success_timestamp_seconds';

/** The metric's value in a Prometheus text exposition, or undefined when it is not there. */
export function lastSuccessFromMetrics(text: string): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^cf_app_discovery_reconcile_last_success_timestamp_seconds(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m) {
      const value = Number(m[1]);
      return Number.isFinite(value) ? value : undefined;
    }
  }
  return undefined;
}

/** From the updater's /metrics when given (exact), else what the store shows (its last change). */
export function reconcileVerdict(
  source: { metricsUrl: string; text?: string; error?: Error } | undefined,
  view: StoreView | undefined,
  now: number,
): CheckResult {
  if (!source) {
    const marker = view?.marker;
    return result(
      'last reconcile',
      'ok',
      marker
        ? `not known from the store, which records only changes: the last one was by the ${marker.writer ?? 'unknown writer'} ${age(now - marker.listed.lastModified.getTime())}`
        : 'not known from the store (no change recorded yet)',
      "give --updater-metrics-url URL (the updater's /metrics) for the time of its last successful run",
    );
  }
  if (source.error || source.text === undefined)
    return result(
      'last reconcile',
      'fail',
      `${source.metricsUrl} could not be read: ${source.error?.message ?? 'no answer'}`,
      'check the URL, METRICS_USERNAME/METRICS_PASSWORD, and that the updater runs (cf app cf-app-discovery-updater)',
    );
  const seconds = lastSuccessFromMetrics(source.text);
  if (seconds === undefined)
    return result(
      'last reconcile',
      'fail',
      `${source.metricsUrl} has no ${METRIC}: not the updater's /metrics`,
      "give the updater's (or a broker's) /metrics URL",
    );
  if (seconds === 0)
    return result(
      'last reconcile',
      'warn',
      'no reconcile has succeeded since the updater started',
      'wait for its first run; if it stays, see the runbook, CfAppDiscoveryReconcileNotSucceeding',
    );
  const ago = now - seconds * 1000;
  if (ago > RECONCILE_FAIL_AFTER_MS)
    return result(
      'last reconcile',
      'fail',
      `the last successful reconcile was ${age(ago)}`,
      "read the updater's failures: cf logs cf-app-discovery-updater --recent | grep 'reconcile failed' (runbook, CfAppDiscoveryReconcileNotSucceeding)",
    );
  return result('last reconcile', 'ok', `the last successful reconcile was ${age(ago)}`);
}
