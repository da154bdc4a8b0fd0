/**
 * Every failure the broker can answer with, as a typed value. The HTTP layer maps them to
 * status codes in one place (toErrorResponse); the domain never picks status codes itself.
 */
export type FailureKind =
  | 'BadRequest' // 400: malformed body, unknown ids, invalid parameters
  | 'Unauthorized' // 401
  | 'NotFound' // 404: fetch of an unknown instance or binding
  | 'Conflict' // 409: same id, different attributes
  | 'Gone' // 410: unbind/deprovision of the unknown
  | 'PreconditionFailed' // 412: API version
  | 'PayloadTooLarge' // 413
  | 'UnsupportedMediaType' // 415
  | 'RequiresApp' // 422
  | 'ConcurrencyError' // 422
  | 'Unavailable' // 503: a dependency (CC, store) is down; safe to retry
  | 'Internal'; // 500

const STATUS: Record<FailureKind, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  NotFound: 404,
  Conflict: 409,
  Gone: 410,
  PreconditionFailed: 412,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  RequiresApp: 422,
  ConcurrencyError: 422,
  Unavailable: 503,
  Internal: 500,
};

export class BrokerFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly description: string,
    /** OSB `error` code; defaults to the kind. */
    readonly errorCode: string = kind,
  ) {
    super(description);
    this.name = 'BrokerFailure';
  }
}

export const badRequest = (description: string, code = 'BadRequest') =>
  new BrokerFailure('BadRequest', description, code);
export const conflict = (description: string) => new BrokerFailure('Conflict', description);
export const notFound = (description: string) => new BrokerFailure('NotFound', description);
export const gone = () => new BrokerFailure('Gone', '');
export const unavailable = (description: string) => new BrokerFailure('Unavailable', description, 'ServiceUnavailable');

export interface ErrorResponse {
  status: number;
  body: Record<string, unknown>;
}

/** The one mapping of failures to status codes and OSB error bodies. */
export function toErrorResponse(failure: BrokerFailure): ErrorResponse {
  const status = STATUS[failure.kind];
  // 410 Gone is a success for the platform: OSB wants an empty JSON object.
  if (failure.kind === 'Gone') return { status, body: {} };
  return { status, body: { error: failure.errorCode, description: failure.description } };
}
