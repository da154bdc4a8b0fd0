import type { Config } from '../shared/config/load';
import type { Logger } from '../shared/logger';
import { usableDirectory } from '../shared/startup';
import { startBroker } from './broker';
import { followAndSchedule } from './follow';
import { runSidecarDaemon } from './sidecar';

/**
 * `all`: broker, updater (schedule and audit-event follower) and sidecar in one process: the single-node deployment. The
 * schedule drives the broker's own reconciler, so it and POST /update-targets never overlap.
 * All parts start or none: if the sidecar cannot start (its --dir, its metrics port), the
 * broker is stopped again before the error goes up, and the schedule never started.
 */
export async function runAllInOne(config: Config, targetsDir: string, logger: Logger, sidecarMetricsPort?: number) {
  // The directories first: a wrong --dir then fails before anything listens.
  await usableDirectory(targetsDir, '--dir');
  const broker = await startBroker(config, logger);
  let sidecar: Awaited<ReturnType<typeof runSidecarDaemon>>;
  try {
    sidecar = await runSidecarDaemon(config, targetsDir, logger, {
      metricsPort: sidecarMetricsPort,
      metricsPortSetting: 'SIDECAR_METRICS_PORT',
    });
  } catch (err) {
    await broker.stop();
    throw err;
  }
  const updater = broker.reconciler ? followAndSchedule(config, broker.reconciler, logger, broker.metrics) : undefined;
  if (!updater) logger.warn('CF_API_URL is not set: no scheduled reconcile');
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
