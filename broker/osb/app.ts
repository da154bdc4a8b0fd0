import express, { Express, RequestHandler } from 'express';
import type { Credential } from '../../shared/basic-auth';
import type { Logger } from '../../shared/logger';
import type { AppMetrics } from '../../shared/metrics';
import { bind } from './handlers/bind';
import { getCatalog } from './handlers/catalog';
import { deprovision } from './handlers/deprovision';
import { getBinding } from './handlers/get-binding';
import { getInstance } from './handlers/get-instance';
import { healthz } from './handlers/health';
import { bindingLastOperation, instanceLastOperation } from './handlers/last-operation';
import { provision } from './handlers/provision';
import { unbind } from './handlers/unbind';
import { getTargets, TargetsReader } from './handlers/targets';
import { update } from './handlers/update';
import { ReconcileNow, updateTargets } from './handlers/update-targets';
import { apiVersion } from './middleware/api-version';
import { basicAuth } from './middleware/basic-auth';
import { errorHandler, notFoundRoute } from './middleware/errors';
import { validateIdParam } from './middleware/ids';
import { verifyJsonDepth } from './middleware/json-depth';
import { requestIdentity } from './middleware/request-identity';
import { securityHeaders } from './middleware/security-headers';
import type { BrokerService } from './service';

export const BODY_LIMIT_BYTES = 64 * 1024;

export interface BrokerAppOptions {
  service: BrokerService;
  /** Accepted broker credentials: the current pair, and the previous one while rotating. */
  credentials: Credential[];
  logger: Logger;
  /** POST /update-targets; without it (no Cloud Controller configured) the route answers 503. */
  reconcile?: ReconcileNow;
  /** GET /targets, for Prometheus' http_sd. */
  targets: TargetsReader;
  /** Accepted on GET /targets (beside the broker's credentials) and nowhere else. */
  targetsCredentials?: Credential;
  metrics?: AppMetrics;
  /** Credentials for /metrics; the broker's own when unset. */
  metricsAuth?: Credential;
}

/** Assembles the transport: middlewares, one handler per endpoint, one error mapper. */
export function createBrokerApp(opts: BrokerAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(securityHeaders());
  app.get('/healthz', healthz);
  if (opts.metrics) {
    const registry = opts.metrics.registry;
    app.get('/metrics', basicAuth(opts.metricsAuth ?? opts.credentials), async (_req, res) => {
      res.set('Content-Type', registry.contentType).send(await registry.metrics());
    });
  }

  const osb = express.Router();
  osb.use(requestIdentity(opts.logger, opts.metrics));
  osb.use(basicAuth(opts.credentials));
  osb.use(apiVersion());
  osb.use(express.json({ limit: BODY_LIMIT_BYTES, strict: true, verify: verifyJsonDepth }) as RequestHandler);
  osb.param('instance_id', validateIdParam('service instance id'));
  osb.param('binding_id', validateIdParam('binding id'));

  const s = opts.service;
  osb.get('/catalog', getCatalog(s));
  osb.put('/service_instances/:instance_id', provision(s));
  osb.patch('/service_instances/:instance_id', update(s));
  osb.delete('/service_instances/:instance_id', deprovision(s));
  osb.get('/service_instances/:instance_id', getInstance(s));
  osb.put('/service_instances/:instance_id/service_bindings/:binding_id', bind(s));
  osb.delete('/service_instances/:instance_id/service_bindings/:binding_id', unbind(s));
  osb.get('/service_instances/:instance_id/service_bindings/:binding_id', getBinding(s));
  osb.get('/service_instances/:instance_id/last_operation', instanceLastOperation(s));
  osb.get('/service_instances/:instance_id/service_bindings/:binding_id/last_operation', bindingLastOperation(s));
  // Express would answer OPTIONS on a known path itself, in text/plain: keep the OSB shape.
  osb.use(notFoundRoute());
  // Mounted at /v2 so the OSB-only checks (API version) never apply to operator endpoints.
  app.use('/v2', osb);

  // Operator endpoints beside /v2; paths none of them serves answer 401/404 with the broker's credentials.
  const operatorRoutes = express.Router();
  operatorRoutes.use(requestIdentity(opts.logger, opts.metrics));
  // The broker's credentials change targets; the targets-only pair may read them, nothing else.
  const operator = basicAuth(opts.credentials);
  const targetsReader = opts.targetsCredentials ? basicAuth([...opts.credentials, opts.targetsCredentials]) : operator;
  operatorRoutes.post('/update-targets', operator, updateTargets(opts.reconcile));
  operatorRoutes.get('/targets', targetsReader, getTargets(opts.targets));
  operatorRoutes.use(operator, notFoundRoute());
  app.use(operatorRoutes);

  app.use(notFoundRoute());
  app.use(errorHandler(opts.logger));
  return app;
}
