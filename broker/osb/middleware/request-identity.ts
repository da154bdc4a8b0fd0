import type { RequestHandler } from 'express';
import { isValidId } from '../../../shared/ids';
import type { Logger } from '../../../shared/logger';
import type { AppMetrics } from '../../../shared/metrics';
import { appGuidCandidate } from '../handlers/request-fields';
import { operationOf } from './operation';
import type { RequestContext } from '../service';

declare module 'express-serve-static-core' {
  interface Request {
    brokerContext?: RequestContext;
  }
}

/** `cloudfoundry <base64 of {"user_id": "..."}>` (OSB originating identity, CF profile). */
export function originatingUserId(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^(\S+)\s+([A-Za-z0-9+/=]+)$/.exec(header.trim());
  if (!match) return undefined;
  try {
    const value = JSON.parse(Buffer.from(match[2], 'base64').toString('utf8')) as { user_id?: unknown };
    return typeof value.user_id === 'string' ? value.user_id.slice(0, 128) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Echoes the request identity, gives handlers a logger that carries it, and writes one
 * access-log line per request when the answer has gone out.
 */
export function requestIdentity(logger: Logger, metrics?: AppMetrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const raw = req.get('x-broker-api-request-identity');
    const requestIdentity = raw && /^[A-Za-z0-9._:-]{1,128}$/.test(raw) ? raw : undefined;
    if (requestIdentity) res.set('X-Broker-API-Request-Identity', requestIdentity);
    const userId = originatingUserId(req.get('x-broker-api-originating-identity'));
    const vcapRequestId = req.get('x-vcap-request-id')?.slice(0, 128);
    const log = logger.child({ requestIdentity, vcapRequestId, userId });
    req.brokerContext = { log, requestIdentity, userId };
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const operation = operationOf(req);
      const { instance_id: instanceId, binding_id: bindingId } = req.params as Record<string, string | undefined>;
      const appCandidate = appGuidCandidate(req.body);
      const appGuid = isValidId(appCandidate) ? appCandidate : undefined;
      const outcome =
        (res.locals.errorCode as string | undefined) ?? (res.statusCode < 400 ? 'success' : String(res.statusCode));
      metrics?.osbRequests.inc({ operation, status: String(res.statusCode) });
      metrics?.osbDuration.observe({ operation }, ms / 1000);
      log.info(
        {
          operation,
          outcome,
          instanceId,
          bindingId,
          appGuid,
          method: req.method,
          path: req.originalUrl.split('?')[0].slice(0, 300),
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
        },
        'request',
      );
    });
    next();
  };
}
