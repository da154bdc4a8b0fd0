import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../../../shared/logger';
import { BrokerFailure, toErrorResponse } from '../errors';
import { MAX_JSON_DEPTH } from './json-depth';

interface HttpStackError {
  type?: string;
  status?: number;
  limit?: number;
  /** Set by http-errors on 4xx errors: the message is about the request, safe to show. */
  expose?: boolean;
}

/**
 * Turns errors raised by the HTTP stack before any handler runs (body-parser, the router)
 * into typed failures with descriptions people can act on.
 */
function fromHttpStack(raw: unknown): BrokerFailure | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const err = raw as HttpStackError;
  // The router decodes path parameters and throws a URIError marked 400 on "%ZZ", a lone
  // "%", overlong or surrogate UTF-8: the client's URL is wrong, not the broker.
  if (raw instanceof URIError && err.status === 400) {
    return new BrokerFailure('BadRequest', 'The request URL is not valid percent-encoded UTF-8.', 'BadRequest');
  }
  switch (err.type) {
    case 'entity.too.large':
      return new BrokerFailure(
        'PayloadTooLarge',
        `The request body is larger than the broker accepts (${err.limit ?? 65536} bytes).`,
        'PayloadTooLarge',
      );
    case 'entity.too.deep':
      return new BrokerFailure(
        'BadRequest',
        `The request body nests JSON more than ${MAX_JSON_DEPTH} levels deep; the broker reads at most ${MAX_JSON_DEPTH}.`,
        'BadRequest',
      );
    case 'entity.parse.failed':
      return new BrokerFailure('BadRequest', 'The request body is not valid JSON.', 'BadRequest');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new BrokerFailure('UnsupportedMediaType', 'The request body must be UTF-8 JSON.', 'UnsupportedMediaType');
    default:
      // body-parser marks what it could not read as an exposed 4xx without a type: a body
      // that does not decompress per its Content-Encoding, or an upload cut short.
      if (err.expose === true && typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
        return new BrokerFailure(
          'BadRequest',
          'The request body could not be read: it does not match its Content-Encoding or was cut short.',
          'BadRequest',
        );
      }
      return undefined;
  }
}

export function notFoundRoute(): RequestHandler {
  return (req, _res, next) => {
    // baseUrl: inside a router mounted at /v2, req.path alone would drop the /v2.
    next(
      new BrokerFailure(
        'NotFound',
        `No such endpoint: ${req.method} ${(req.baseUrl + req.path).slice(0, 200)}.`,
        'NotFound',
      ),
    );
  };
}

/** The single place where failures become HTTP answers. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const log = req.brokerContext?.log ?? logger;
    let failure: BrokerFailure;
    if (err instanceof BrokerFailure) failure = err;
    else
      failure =
        fromHttpStack(err) ??
        new BrokerFailure(
          'Internal',
          'The broker failed unexpectedly; the platform operator can find the details in its logs.',
          'InternalError',
        );
    const { status, body } = toErrorResponse(failure);
    res.locals.errorCode = failure.kind === 'Gone' ? 'Gone' : failure.errorCode;
    if (status >= 500) log.error({ err, method: req.method, path: req.path, status }, 'request failed');
    else if (status !== 410)
      log.info(
        { method: req.method, path: req.path, status, error: failure.errorCode, description: failure.description },
        'request refused',
      );
    res.status(status).json(body);
  };
}
