import type { Config } from '../shared/config/load';
import { closeGracefully } from '../shared/graceful-close';
import type { Logger } from '../shared/logger';
import { serveMetrics } from '../shared/metrics-server';
import { SyncOptions, Syncer } from '../shared/mirror/sync';
import { usableDirectory } from '../shared/startup';
import { createStore } from '../shared/store';
import { SidecarDaemon } from '../sidecar/daemon';
import { SidecarMetrics } from '../sidecar/metrics';
import { stateFileIn } from '../sidecar/state-file';
import { TargetDir } from '../sidecar/target-dir';
import type { FlagValues } from './args';
import type { Outcome } from './commands';

const MAX_BACKOFF_MS = 60_000;

function syncer(config: Config, dir: string, logger: Logger, persistState: boolean): Syncer {
  const options: SyncOptions = {
    fullListIntervalMs: config.sidecar.fullListIntervalMs,
    maxRemoveShare: config.sidecar.maxRemoveShare,
    minGuardedRemovals: 3,
    downloadConcurrency: 16,
    schema: { scrape: config.rendering.scrape },
  };
  const log = logger.child({ component: 'sidecar' });
  const target = new TargetDir(dir, log);
  return new Syncer(createStore(config.store), target, options, log, persistState ? stateFileIn(target) : undefined);
}

/** `sidecar --once`: one sync for cron; state between runs lives in a dot-file in DIR. */
export async function runSidecarOnce(config: Config, dir: string, logger: Logger): Promise<number> {
  try {
    const result = await syncer(config, dir, logger, true).syncOnce();
    process.stdout.write(JSON.stringify({ ok: true, ...result }) + '\n');
    return 0;
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, error: (err as Error).message }) + '\n');
    return 1;
  }
}

export interface SidecarDaemonOptions {
  /** Overrides SIDECAR_METRICS_PORT (`--metrics-port`). */
  metricsPort?: number;
  /** How the operator set the directory and the port, for startup errors. */
  dirSetting?: string;
  metricsPortSetting?: string;
}

/**
 * `sidecar`: poll every SYNC_INTERVAL_SECONDS, serve /metrics. Resolves once the directory is
 * usable and /metrics listens; rejects with a StartupError naming the setting otherwise.
 */
export async function runSidecarDaemon(
  config: Config,
  dir: string,
  logger: Logger,
  opts: SidecarDaemonOptions = {},
): Promise<{ stop(): Promise<void> }> {
  const metrics = new SidecarMetrics();
  await usableDirectory(dir, opts.dirSetting ?? '--dir');
  const metricsPort = opts.metricsPort ?? config.sidecar.metricsPort;
  const portSetting =
    opts.metricsPortSetting ?? (opts.metricsPort === undefined ? 'SIDECAR_METRICS_PORT' : '--metrics-port');
  const server = await serveMetrics(
    metrics.registry,
    config.sidecar.metricsHost,
    metricsPort,
    logger,
    config.metricsAuth,
    portSetting,
  );
  const daemon = new SidecarDaemon(
    syncer(config, dir, logger, false),
    metrics,
    { intervalMs: config.sidecar.intervalMs, maxBackoffMs: MAX_BACKOFF_MS },
    logger,
  );
  daemon.start();
  logger.info({ dir, intervalMs: config.sidecar.intervalMs, store: config.store.store }, 'sidecar running');
  return {
    async stop() {
      await daemon.stop();
      await closeGracefully(server, 2_000);
    },
  };
}

/** `sidecar --dir DIR [--once] [--metrics-port N]` (the CLI has checked --dir is there); a bad port exits 2. */
export async function startSidecarCommand(flags: FlagValues, config: Config, logger: Logger): Promise<Outcome> {
  const dir = flags.dir as string;
  const port = flags['metrics-port'] as string | undefined;
  if (port !== undefined && !/^[0-9]{1,5}$/.test(port)) {
    process.stderr.write('cf-app-discovery: --metrics-port must be a port number\n');
    return 2;
  }
  if (flags.once) return runSidecarOnce(config, dir, logger);
  return runSidecarDaemon(config, dir, logger, { metricsPort: port === undefined ? undefined : Number(port) });
}
