import {
  CcAbortedError,
  CcApiError,
  CcAuthError,
  CcBadResponseError,
  CcIncompleteError,
  CcRateLimitedError,
  CcUnavailableError,
} from '../shared/cc/errors';
import type { FOLLOWER_POLL_FAILURE_REASONS } from '../shared/metrics';

export interface FollowerFailure {
  /** A bounded metric label (cf_app_discovery_event_poll_failures_total). */
  reason: (typeof FOLLOWER_POLL_FAILURE_REASONS)[number];
  message: string;
  /** For 403 and 404, logged once: what the operator can do. */
  advice: string;
}

/** Why a poll of the audit events failed, from the CC client's typed errors. */
export function failureOf(err: unknown): FollowerFailure {
  const message = err instanceof Error ? err.message : String(err);
  const plain = (reason: FollowerFailure['reason']): FollowerFailure => ({ reason, message, advice: '' });
  if (err instanceof CcApiError && err.isForbidden())
    return {
      reason: 'forbidden',
      message,
      advice:
        "the CF user may not read audit events (403): targets follow the schedule only. Give it the SpaceAuditor role in the bound apps' spaces (or global auditor), or set EVENT_POLL_SECONDS=0",
    };
  if (err instanceof CcApiError && err.isNotFound())
    return {
      reason: 'not_found',
      message,
      advice:
        'this Cloud Controller has no /v3/audit_events (404): targets follow the schedule only. Set EVENT_POLL_SECONDS=0 to stop asking',
    };
  if (err instanceof CcRateLimitedError) return plain('throttled');
  if (err instanceof CcAuthError) return plain('unauthorized');
  if (err instanceof CcIncompleteError || err instanceof CcBadResponseError) return plain('invalid');
  if (err instanceof CcUnavailableError) {
    if (err.status !== undefined && err.status >= 500) return plain('server_error');
    return plain(/no answer within/.test(message) ? 'timeout' : 'unreachable');
  }
  if (err instanceof CcApiError)
    return plain(err.status !== undefined && err.status >= 500 ? 'server_error' : 'invalid');
  if (err instanceof CcAbortedError) return plain('timeout');
  return plain('other');
}
