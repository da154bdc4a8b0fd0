import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../../shared/logger';
import { BrokerFailure, toErrorResponse } from '../errors';

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/** Turns body-parser errors into typed failures with descriptions people can act on. */
function fromBodyParser(err: BodyParserError): BrokerFailure | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new BrokerFailure('PayloadTooLarge', `The request body is larger than the broker accepts (${err.limit ?? 65536} bytes).`, 'PayloadTooLarge');
    case 'entity.parse.failed':
      return new BrokerFailure('BadRequest', 'The request body is not valid JSON.', 'BadRequest');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new BrokerFailure('UnsupportedMediaType', 'The request body must be UTF-8 JSON.', 'UnsupportedMediaType');
    default:
      return undefined;
  }
}

export function notFoundRoute(): RequestHandler {
  return (req, _res, next) => {
    next(new BrokerFailure('NotFound', `No such endpoint: ${req.method} ${req.path.slice(0, 200)}.`, 'NotFound'));
  };
}

/** The single place where failures become HTTP answers. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const log = req.brokerContext?.log ?? logger;
    let failure: BrokerFailure;
    if (err instanceof BrokerFailure) failure = err;
    else failure = fromBodyParser(err as BodyParserError) ?? new BrokerFailure('Internal', 'The broker failed unexpectedly; the platform operator can find the details in its logs.', 'InternalError');
    const { status, body } = toErrorResponse(failure);
    res.locals.errorCode = failure.kind === 'Gone' ? 'Gone' : failure.errorCode;
    if (status >= 500) log.error({ err, method: req.method, path: req.path, status }, 'request failed');
    else if (status !== 410) log.info({ method: req.method, path: req.path, status, error: failure.errorCode, description: failure.description }, 'request refused');
    res.status(status).json(body);
  };
}
