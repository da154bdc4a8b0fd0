import type { Config } from '../shared/config/load';
import type { Logger } from '../shared/logger';
import { runSidecarDaemon } from '../sidecar/run';
import { scheduleReconciler } from '../updater/run';
import { startBroker } from './server';

/**
 * `all`: broker, updater schedule and sidecar in one process: the single-node deployment. The
 * schedule drives the broker's own reconciler, so it and POST /update-targets never overlap.
 */
export async function runAllInOne(config: Config, targetsDir: string, logger: Logger, sidecarMetricsPort?: number) {
  const broker = await startBroker(config, logger);
  const updater = broker.reconciler ? scheduleReconciler(broker.reconciler, config.updateSchedule, logger) : undefined;
  if (!updater) logger.warn('CF_API_URL is not set: no scheduled reconcile');
  const sidecar = await runSidecarDaemon(config, targetsDir, logger, sidecarMetricsPort);
  return {
    port: broker.port,
    store: broker.store,
    reconciler: broker.reconciler,
    async stop() {
      // In-flight OSB requests get the whole grace; the schedule and the sidecar stop meanwhile.
      await Promise.all([broker.stop(), updater?.stop(), sidecar.stop()]);
    },
  };
}
