/** Every failure of a CC or UAA call, typed so callers can tell "gone" from "unknown". */
export interface CcErrorInfo {
  status?: number;
  title?: string;
  code?: number;
  detail?: string;
  /** Method and URL path with query; never a token. */
  url?: string;
}

export class CcError extends Error {
  readonly status?: number;
  readonly title?: string;
  readonly code?: number;
  readonly detail?: string;
  readonly url?: string;

  constructor(message: string, info: CcErrorInfo = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    Object.assign(this, info);
  }
}

/** The CC answered with an error body (4xx other than 401/429, or a 5xx with a CF error). */
export class CcApiError extends CcError {
  isNotFound(): boolean {
    return this.status === 404 || this.title === 'CF-ResourceNotFound' || this.code === 10010;
  }
  isForbidden(): boolean {
    return this.status === 403 || this.title === 'CF-NotAuthorized' || this.code === 10003;
  }
}

/** Network error, timeout or 5xx: the CC may be fine a moment later. */
export class CcUnavailableError extends CcError {}

/** 429 that we could not (or would not) wait out. */
export class CcRateLimitedError extends CcError {
  constructor(
    message: string,
    info: CcErrorInfo,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message, info);
  }
}

/** UAA refused our credentials, or the CC refused a fresh token. */
export class CcAuthError extends CcError {}

/** A listing whose pages do not add up: never treat it as complete. */
export class CcIncompleteError extends CcError {}

/** The caller gave up (a bind's or a run's deadline, a shutdown): the request was cut, not failed. */
export class CcAbortedError extends CcError {}

/** A 2xx whose body is not the JSON we expect. */
export class CcBadResponseError extends CcError {}
