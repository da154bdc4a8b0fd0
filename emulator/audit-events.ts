import type { Answer } from './answer';
import { AuditEvent, presentAuditEvent } from './audit-log';
import { BadQuery, paginate, parseListQuery } from './listing';
import { ccError } from './presenters';
import type { PlatformState } from './state';

const TIMESTAMP_FILTERS = ['created_ats', 'updated_ats'] as const;
const OPERATORS = ['gt', 'gte', 'lt', 'lte'] as const;
type Operator = (typeof OPERATORS)[number];
const ALLOWED = [
  'types',
  'target_guids',
  'target_guids[not]',
  'space_guids',
  'organization_guids',
  ...TIMESTAMP_FILTERS.flatMap((f) => [f, ...OPERATORS.map((op) => `${f}[${op}]`)]),
];
const ORDERS = ['created_at', '-created_at', 'updated_at', '-updated_at'];
/** The CC accepts exactly this form: one-second resolution, UTC; anything finer or looser is refused. */
const CC_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/**
 * GET /v3/audit_events and /v3/audit_events/:guid, as the CC answers them: the events of the
 * spaces `user` has a role in (all, and the space-less ones, with global read), its filters
 * (timestamps compared per second, as the CC stores them), `order_by`, and paging. Undefined
 * for other paths.
 */
export function answerAuditEvents(
  state: PlatformState,
  base: string,
  path: string,
  q: URLSearchParams,
  user: string,
): Answer | undefined {
  const m = /^\/v3\/audit_events(?:\/([^/]+))?$/.exec(path);
  if (!m) return undefined;
  const log = state.auditLog;
  if (!log.available) return ccError(404, 'CF-NotFound', 10000, 'Unknown request');
  if (log.denied.has(user))
    return ccError(403, 'CF-NotAuthorized', 10003, 'You are not authorized to perform the requested action');
  const principal = state.principals.get(user);
  const visible = (e: AuditEvent) =>
    !!principal && (principal.globalRead || (e.spaceGuid !== null && principal.spaces.has(e.spaceGuid)));
  if (m[1] !== undefined) {
    const event = log.events.find((e) => e.guid === m[1]);
    return event && visible(event)
      ? { status: 200, body: presentAuditEvent(base, event) }
      : ccError(404, 'CF-ResourceNotFound', 10010, 'Event not found');
  }
  const lq = parseListQuery(q, ALLOWED);
  const f = lq.filters;
  const orderBy = lq.raw.get('order_by');
  if (orderBy !== undefined && !ORDERS.includes(orderBy))
    throw new BadQuery("The query parameter is invalid: Order by can only be: 'created_at', 'updated_at'");
  const inTime = timeFilter(lq.raw);
  const has = (key: string, value: string | null) => !f.has(key) || (value !== null && f.get(key)!.has(value));
  const events = log.events.filter(
    (e) =>
      visible(e) &&
      has('types', e.type) &&
      has('target_guids', e.target.guid) &&
      !f.get('target_guids[not]')?.has(e.target.guid) &&
      has('space_guids', e.spaceGuid) &&
      has('organization_guids', e.orgGuid) &&
      inTime(e),
  );
  // Events never change, so updated_at orders as created_at; ties keep the CC's row-id order.
  events.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.seq - b.seq);
  if (orderBy?.startsWith('-')) events.reverse();
  const page = paginate(base, '/v3/audit_events', lq, events);
  return {
    status: 200,
    body: { pagination: page.pagination, resources: page.resources.map((e) => presentAuditEvent(base, e)) },
  };
}

/** The created_ats/updated_ats filters as one predicate; a malformed one is the CC's 400. */
function timeFilter(raw: Map<string, string>): (e: AuditEvent) => boolean {
  const tests: Array<(t: number) => boolean> = [];
  for (const name of TIMESTAMP_FILTERS) {
    const label = name === 'created_ats' ? 'Created ats' : 'Updated ats';
    const equal = raw.get(name);
    if (equal !== undefined) {
      const seconds = new Set(equal.split(',').map((v) => instant(label, v)));
      tests.push((t) => seconds.has(t));
    }
    for (const op of OPERATORS) {
      const value = raw.get(`${name}[${op}]`);
      if (value === undefined) continue;
      if (value.includes(','))
        throw new BadQuery(
          `The query parameter is invalid: ${label} only accepts one value when using a relational operator`,
        );
      const bound = instant(label, value);
      tests.push(compare(op, bound));
    }
  }
  // created_at and updated_at are the same instant for an event.
  return (e) => tests.every((test) => test(Date.parse(e.created_at)));
}

function compare(op: Operator, bound: number): (t: number) => boolean {
  if (op === 'gt') return (t) => t > bound;
  if (op === 'gte') return (t) => t >= bound;
  if (op === 'lt') return (t) => t < bound;
  return (t) => t <= bound;
}

function instant(label: string, value: string): number {
  const t = CC_TIMESTAMP.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t))
    throw new BadQuery(
      `The query parameter is invalid: ${label} has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'`,
    );
  return t;
}
