import { createServer, Server } from 'node:http';
import { CcAppDirectory } from '../broker/app-lookup';
import { createBrokerApp } from '../broker/osb/app';
import { MonitoringBroker } from '../broker/monitoring-broker';
import { TargetsView } from '../broker/targets-view';
import type { Credential } from '../shared/basic-auth';
import { ccClientFromConfig } from '../shared/cc/from-config';
import type { Config } from '../shared/config/load';
import type { Logger } from '../shared/logger';
import { AppMetrics } from '../shared/metrics';
import { RecordRepository } from '../shared/records/repository';
import { closeGracefully, SHUTDOWN_GRACE_MS } from '../shared/graceful-close';
import { createStore } from '../shared/store';
import { listen, usableDirectory } from '../shared/startup';
import { InstrumentedStore } from '../shared/store/instrumented';
import { buildReconciler, UPDATER_CC_TUNING } from '../updater/build';

/** CF gives a bind 60 s; CC lookups must end well before, retries included. */
const CC_TIMEOUT_MS = 10_000;

/** The current pair, then the previous one while an operator rotates them. */
function brokerCredentials(config: Config): Credential[] {
  const current = { username: config.brokerUsername!, password: config.brokerPassword! };
  return config.brokerPrevious ? [current, config.brokerPrevious] : [current];
}

export interface BrokerTuning {
  /** Deadline of a bind's whole CC lookup (default BIND_LOOKUP_DEADLINE_MS). */
  bindDeadlineMs?: number;
}

/**
 * The broker's parts, from settings: the store, the monitoring service behind the OSB routes,
 * the reconciler behind POST /update-targets and the view behind GET /targets.
 */
export function buildBroker(config: Config, logger: Logger, metrics = new AppMetrics(), tuning: BrokerTuning = {}) {
  const store = new InstrumentedStore(createStore(config.store), metrics);
  const cc = ccClientFromConfig(config, logger, {
    timeoutMs: CC_TIMEOUT_MS,
    retries: 1,
    maxRetryAfterMs: 10_000,
    onRequest: metrics.onCcRequest,
  });
  // /update-targets gets the updater's patience, and its own client so a long run never
  // holds up binds.
  const updaterCc = ccClientFromConfig(config, logger, { ...UPDATER_CC_TUNING, onRequest: metrics.onCcRequest });
  const reconciler = updaterCc
    ? buildReconciler(store, updaterCc, logger, metrics, config.reconcileTimeoutMs, config.rendering)
    : undefined;
  const schema = { scrape: config.rendering.scrape };
  const service = new MonitoringBroker({
    catalog: config.catalog,
    rendering: config.rendering,
    onIgnoredAnnotations: (ignored) => {
      for (const a of ignored) metrics.invalidAnnotations.inc({ annotation: a.annotation });
    },
    records: new RecordRepository(
      store,
      {
        onInvalidTargets: (key, reason, problem) => {
          metrics.invalidTargetFiles.inc({ reader: 'binding_fetch', reason });
          logger.error({ key, reason, problem }, 'target file in the store refused on read');
        },
        onRefusedTargets: (err) => {
          metrics.refusedTargetWrites.inc({ writer: 'bind' });
          logger.error(
            { bindingId: err.bindingId, problem: err.problem },
            'rendered target file breaks the target file schema: not written',
          );
        },
      },
      schema,
    ),
    apps: cc ? new CcAppDirectory(cc, { deadlineMs: tuning.bindDeadlineMs }) : undefined,
    cfPrincipal: config.cf?.credentials,
    dashboardUrl: config.dashboardUrl,
  });
  const app = createBrokerApp({
    service,
    credentials: brokerCredentials(config),
    logger,
    metrics,
    metricsAuth: config.metricsAuth,
    targetsCredentials: config.targetsAuth,
    reconcile: reconciler ? () => reconciler.run() : undefined,
    targets: new TargetsView(store, logger, metrics, schema),
  });
  return { app, store, cc, service, reconciler, metrics };
}

/**
 * `broker`: starts listening; resolves once the port is bound, with what else runs on top of
 * it. An fs store directory that cannot be used, or a port that cannot be listened on, rejects
 * with a StartupError naming STORE_DIR, PORT or HOST, and leaves nothing running.
 */
export async function startBroker(
  config: Config,
  logger: Logger,
): Promise<{ server: Server; port: number; stop(): Promise<void> } & ReturnType<typeof buildBroker>> {
  if (config.store.store === 'fs') await usableDirectory(config.store.storeDir, 'STORE_DIR');
  const built = buildBroker(config, logger);
  if (!config.cf)
    logger.warn(
      'CF_API_URL is not set: the broker serves the catalog, provision and unbind, but every bind will fail until it is configured',
    );
  const server = createServer(built.app);
  // Keep-alive longer than the CF router's idle timeout, so it never sends on a closing socket.
  server.keepAliveTimeout = 95_000;
  server.headersTimeout = 96_000;
  const port = await listen(server, config.port, config.host, config.host ? 'PORT/HOST' : 'PORT');
  logger.info(
    { port, host: config.host, store: built.store.description, cfApi: config.cf?.apiUrl },
    'broker listening',
  );
  // Requests in flight finish (their store writes complete) before the process goes. A
  // reconcile (from POST /update-targets) gets a while to finish, then is abandoned, which also
  // lets that request answer within the grace.
  const stop = async () => {
    const [{ forced }] = await Promise.all([closeGracefully(server), built.reconciler?.shutdown()]);
    if (forced)
      logger.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'requests still open at the end of the shutdown grace were cut');
  };
  return { server, port, stop, ...built };
}
