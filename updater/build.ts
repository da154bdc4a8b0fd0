import type { CloudControllerClient } from '../shared/cc';
import type { Logger } from '../shared/logger';
import type { AppMetrics } from '../shared/metrics';
import type { Store } from '../shared/store/store';
import type { RenderSettings } from '../shared/targets/options';
import { Reconciler } from './reconciler';

/** CC tuning for reconcile runs: patient with throttling, never stuck (a run has minutes). */
export const UPDATER_CC_TUNING = { timeoutMs: 15_000, retries: 2, maxRetryAfterMs: 30_000 };

export function buildReconciler(
  store: Store,
  cc: CloudControllerClient,
  logger: Logger,
  metrics?: AppMetrics,
  timeoutMs?: number,
  rendering?: RenderSettings,
): Reconciler {
  return new Reconciler({ store, cc, logger: logger.child({ component: 'updater' }), metrics, timeoutMs, rendering });
}
