import { ccClientFromConfig } from '../shared/cc/from-config';
import type { Config } from '../shared/config/load';
import { closeGracefully } from '../shared/graceful-close';
import type { Logger } from '../shared/logger';
import { AppMetrics } from '../shared/metrics';
import { serveMetrics } from '../shared/metrics-server';
import { usableDirectory } from '../shared/startup';
import { InstrumentedStore } from '../shared/store/instrumented';
import { createStore } from '../shared/store';
import { buildReconciler, UPDATER_CC_TUNING } from '../updater/build';
import type { RunSummary } from '../updater/reconciler';
import { followAndSchedule } from './follow';

function reconcilerFor(config: Config, logger: Logger, metrics?: AppMetrics) {
  const cc = ccClientFromConfig(config, logger, { ...UPDATER_CC_TUNING, onRequest: metrics?.onCcRequest });
  if (!cc) throw new Error('the updater needs CF_API_URL and CF credentials');
  const store = createStore(config.store);
  return buildReconciler(
    metrics ? new InstrumentedStore(store, metrics) : store,
    cc,
    logger,
    metrics,
    config.reconcileTimeoutMs,
    config.rendering,
  );
}

/** `updater --once`: one reconcile, one JSON line on stdout, exit 0 only on success. */
export async function runUpdaterOnce(config: Config, logger: Logger): Promise<number> {
  const summary = await reconcilerFor(config, logger).run();
  process.stdout.write(JSON.stringify(summary) + '\n');
  return summary.ok ? 0 : 1;
}

/**
 * `updater`: a reconcile at start and then on UPDATE_SCHEDULE, never two at once, and targeted
 * runs as the audit events name bound apps (EVENT_POLL_SECONDS); /metrics on
 * PORT (all interfaces with METRICS_USERNAME/PASSWORD set, loopback otherwise).
 */
export async function runUpdaterDaemon(
  config: Config,
  logger: Logger,
): Promise<{ stop(): Promise<void>; last(): RunSummary | undefined }> {
  const metrics = new AppMetrics();
  if (config.store.store === 'fs') await usableDirectory(config.store.storeDir, 'STORE_DIR');
  const server = await serveMetrics(
    metrics.registry,
    config.metricsAuth ? '0.0.0.0' : '127.0.0.1',
    config.port,
    logger,
    config.metricsAuth,
    'PORT',
  );
  const scheduled = followAndSchedule(config, reconcilerFor(config, logger, metrics), logger, metrics);
  return {
    last: scheduled.last,
    async stop() {
      await scheduled.stop();
      await closeGracefully(server, 2_000);
    },
  };
}
