import type { CloudControllerClient, RequestOptions } from './client';
import { CcIncompleteError } from './errors';
import { listAllPages, MAX_PAGES, toQueryString } from './listing';
import type { Raw } from './projections';

/**
 * The audit event types after which a bound app's target file can change: its state, name,
 * metadata, processes, routes, deployments, or the app or a route of it going away.
 */
export const TARGET_EVENT_TYPES = [
  'audit.app.start',
  'audit.app.stop',
  'audit.app.restart',
  'audit.app.update',
  'audit.app.process.scale',
  'audit.app.process.update',
  'audit.app.process.create',
  'audit.app.process.delete',
  'audit.app.map-route',
  'audit.app.unmap-route',
  'audit.app.delete-request',
  'audit.app.deployment.create',
  'audit.app.deployment.cancel',
  'audit.app.deployment.continue',
  'audit.app.apply_manifest',
  'audit.route.update',
  'audit.route.delete-request',
] as const;

/** One audit event, as far as following changes needs it. */
export interface AuditEvent {
  guid: string;
  /** The CC's own `created_at`, one-second resolution. */
  createdAt: string;
  /** `createdAt` in milliseconds since the epoch. */
  at: number;
  type: string;
  target: { guid: string; type: string };
}

const GUID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** The event, or undefined when the CC sent something that is not one (it is then skipped). */
export function projectAuditEvent(r: Raw): AuditEvent | undefined {
  const created = r?.created_at;
  const target = r?.target;
  if (typeof r?.guid !== 'string' || !GUID.test(r.guid)) return undefined;
  if (typeof created !== 'string' || !TIMESTAMP.test(created) || Number.isNaN(Date.parse(created))) return undefined;
  if (typeof r.type !== 'string' || r.type.length > 100) return undefined;
  if (typeof target?.guid !== 'string' || !GUID.test(target.guid) || typeof target.type !== 'string') return undefined;
  return {
    guid: r.guid,
    createdAt: created,
    at: Date.parse(created),
    type: r.type,
    target: { guid: target.guid, type: target.type.slice(0, 20) },
  };
}

/** More events match than one poll reads: the caller should reconcile everything instead. */
export class TooManyEventsError extends Error {
  constructor(readonly total: number) {
    super(`${total} audit events to read at once`);
  }
}

export interface EventPage {
  /** In the CC's order (oldest first), deduplicated by guid; malformed events left out. */
  events: AuditEvent[];
  /** Events the CC sent that are not events (skipped, for logs and metrics). */
  malformed: number;
}

/** CC timestamps are whole seconds; filters take the same form. */
export function ccTimestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const NOT_EVENT = Symbol('malformed');

/**
 * The target-changing events created at or after `sinceMs` (all retained ones without it),
 * oldest first, following pages. More than `maxEvents` matching rejects with TooManyEventsError
 * after the first page, before reading the rest.
 */
export async function listAuditEventsSince(
  cc: CloudControllerClient,
  opts: { sinceMs?: number; maxEvents: number; perPage?: number } & RequestOptions,
): Promise<EventPage> {
  const query = {
    types: [...TARGET_EVENT_TYPES],
    order_by: 'created_at',
    per_page: opts.perPage ?? 5000,
    'created_ats[gte]': opts.sinceMs === undefined ? undefined : ccTimestamp(opts.sinceMs),
  };
  let first = true;
  const listing = await listAllPages<AuditEvent | typeof NOT_EVENT>(
    async (url) => {
      const page = (await cc.getJson(url, { signal: opts.signal })) as { pagination?: { total_results?: unknown } };
      const total = page?.pagination?.total_results;
      if (first && typeof total === 'number' && total > opts.maxEvents) throw new TooManyEventsError(total);
      first = false;
      return page;
    },
    `${cc.apiUrl}/v3/audit_events${toQueryString(query)}`,
    '/v3/audit_events',
    MAX_PAGES,
    { resource: (r) => projectAuditEvent(r) ?? NOT_EVENT },
  );
  const events = listing.resources.filter((e): e is AuditEvent => e !== NOT_EVENT);
  return { events, malformed: listing.resources.length - events.length };
}

/**
 * The newest target-changing events (newest first, at most `count`): where following starts.
 * One request, whatever the CC holds.
 */
export async function newestAuditEvents(
  cc: CloudControllerClient,
  count: number,
  opts: RequestOptions = {},
): Promise<AuditEvent[]> {
  const query = { types: [...TARGET_EVENT_TYPES], order_by: '-created_at', per_page: count };
  const page = (await cc.getJson(`${cc.apiUrl}/v3/audit_events${toQueryString(query)}`, opts)) as {
    resources?: unknown;
  };
  if (!page || !Array.isArray(page.resources))
    throw new CcIncompleteError('GET /v3/audit_events is not a v3 list (no resources)', { url: '/v3/audit_events' });
  return (page.resources as Raw[]).map(projectAuditEvent).filter((e): e is AuditEvent => e !== undefined);
}
