import type { RequestHandler } from 'express';
import { basicAuthChecker, Credential } from '../../../shared/basic-auth';
import { BrokerFailure } from '../errors';

/** HTTP Basic auth on every route but /healthz; any of `accepted` lets a request in. */
export function basicAuth(accepted: Credential | readonly Credential[]): RequestHandler {
  const check = basicAuthChecker(accepted);
  return (req, res, next) => {
    if (check(req.get('authorization'))) return next();
    res.set('WWW-Authenticate', 'Basic realm="cf-app-discovery", charset="UTF-8"');
    next(
      new BrokerFailure(
        'Unauthorized',
        'Missing or wrong broker credentials: Cloud Foundry must call the broker with the BROKER_USERNAME and BROKER_PASSWORD it was registered with (cf update-service-broker).',
      ),
    );
  };
}
