import type { RequestHandler } from 'express';
import { basicAuthChecker } from '../../shared/basic-auth';
import { BrokerFailure } from '../errors';

/** HTTP Basic auth on every route but /healthz. */
export function basicAuth(username: string, password: string): RequestHandler {
  const check = basicAuthChecker(username, password);
  return (req, res, next) => {
    if (check(req.get('authorization'))) return next();
    res.set('WWW-Authenticate', 'Basic realm="cf-app-discovery"');
    next(new BrokerFailure('Unauthorized', 'Missing or wrong broker credentials: Cloud Foundry must call the broker with the BROKER_USERNAME and BROKER_PASSWORD it was registered with (cf update-service-broker).'));
  };
}
