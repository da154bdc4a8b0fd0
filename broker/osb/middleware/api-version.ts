import type { RequestHandler } from 'express';
import { BrokerFailure } from '../errors';

/** Oldest OSB minor version whose semantics this broker relies on. CF sends 2.15. */
export const MIN_MINOR_VERSION = 13;

export function apiVersion(): RequestHandler {
  return (req, _res, next) => {
    const header = req.get('x-broker-api-version');
    const match = header ? /^2\.(\d+)$/.exec(header.trim()) : null;
    if (match && Number(match[1]) >= MIN_MINOR_VERSION) return next();
    const got =
      header === undefined
        ? 'no X-Broker-API-Version header'
        : `X-Broker-API-Version ${JSON.stringify(header.slice(0, 20))}`;
    next(
      new BrokerFailure(
        'PreconditionFailed',
        `This broker speaks Open Service Broker API 2.${MIN_MINOR_VERSION} or later 2.x (Cloud Foundry sends 2.15); the request had ${got}.`,
        'PreconditionFailed',
      ),
    );
  };
}
