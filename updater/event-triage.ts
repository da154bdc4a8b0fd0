import { AuditEvent, TARGET_EVENT_TYPES } from '../shared/cc/audit-events';

/** What a batch of fresh audit events asks of the reconciler. */
export interface Triage {
  /** Bound apps whose files may have changed. */
  apps: Set<string>;
  /** Of those, the apps an event says were deleted: only they may be found gone and lose their files. */
  deleted: Set<string>;
  /** Events per type (a type we did not ask for counts as "other") and whether they named a bound app. */
  counts: Map<string, { relevant: number; ignored: number }>;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(TARGET_EVENT_TYPES);

/** A bounded metric label: the types we ask for, anything else as "other". */
export function eventTypeLabel(type: string): string {
  return KNOWN_TYPES.has(type) ? type : 'other';
}

/**
 * Pure: which bound apps the events name. App events name their app; route events name the
 * route, whose bound apps come from the last observations (`appsOnRoute`; a route no bound app
 * was mapped to changes no file, and an app mapped to it since has its own map-route event).
 * Events for apps no binding names cost nothing further.
 */
export function triageEvents(
  events: readonly AuditEvent[],
  bound: ReadonlySet<string>,
  appsOnRoute: (routeGuid: string) => Iterable<string>,
): Triage {
  const out: Triage = { apps: new Set(), deleted: new Set(), counts: new Map() };
  for (const e of events) {
    let named: string[] = [];
    if (e.target.type === 'app') named = [e.target.guid];
    else if (e.target.type === 'route') named = [...appsOnRoute(e.target.guid)];
    const relevant = named.filter((app) => bound.has(app));
    for (const app of relevant) out.apps.add(app);
    if (e.type === 'audit.app.delete-request') for (const app of relevant) out.deleted.add(app);
    const label = eventTypeLabel(e.type);
    const count = out.counts.get(label) ?? { relevant: 0, ignored: 0 };
    if (relevant.length > 0) count.relevant++;
    else count.ignored++;
    out.counts.set(label, count);
  }
  return out;
}
