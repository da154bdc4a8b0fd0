import type { CloudControllerClient } from '../shared/cc';
import type { CcApp, CcDomain, CcOrganization, CcProcess, CcRoute, CcSpace } from '../shared/cc/types';
import { buildSnapshot, byGuid, ImplausibleAppError } from '../shared/targets/snapshot';
import { inParallel } from '../shared/parallel';
import type { AppObservation } from './plan';

export type Strategy = 'by-guid' | 'full';

export interface ObserveOptions {
  /** Guids per filtered request: 100 x 36 chars stays far below nginx's 8 KB URI limit. */
  chunkSize?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Aborting it ends every request of the observation at once. */
  signal?: AbortSignal;
  /** Skip the cost estimate and use this strategy. */
  strategy?: Strategy;
}

export interface Observation {
  apps: Map<string, AppObservation>;
  strategy: 'none' | Strategy;
  /** Route guid -> the observed apps mapped to it: which bound apps a route's audit event concerns. */
  routeApps: Map<string, string[]>;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

interface Listing {
  apps: CcApp[];
  spaces: CcSpace[];
  organizations: CcOrganization[];
  processes: CcProcess[];
  routes: CcRoute[];
  domains: CcDomain[];
}

async function listByGuid(
  cc: CloudControllerClient,
  guids: string[],
  size: number,
  concurrency: number,
  signal?: AbortSignal,
): Promise<Listing> {
  const out: Listing = { apps: [], spaces: [], organizations: [], processes: [], routes: [], domains: [] };
  const opts = { signal };
  const tasks = chunks(guids, size).flatMap((chunk) => [
    async () => {
      const r = await cc.listApps({ guids: chunk }, opts);
      out.apps.push(...r.apps);
      out.spaces.push(...r.spaces);
      out.organizations.push(...r.organizations);
    },
    async () => {
      out.processes.push(...(await cc.listProcesses({ appGuids: chunk, types: ['web'] }, opts)));
    },
    async () => {
      const r = await cc.listRoutes({ appGuids: chunk }, opts);
      out.routes.push(...r.routes);
      out.domains.push(...r.domains);
    },
  ]);
  await inParallel(tasks, concurrency);
  return out;
}

async function listEverything(cc: CloudControllerClient, signal?: AbortSignal): Promise<Listing> {
  const opts = { signal };
  const [apps, processes, routes] = await Promise.all([
    cc.listApps({}, opts),
    cc.listProcesses({ types: ['web'] }, opts),
    cc.listRoutes({}, opts),
  ]);
  return { ...apps, processes, routes: routes.routes, domains: routes.domains };
}

/**
 * Filtered lists cost 3 requests per chunk of guids. When most visible apps are bound, three
 * unfiltered listings at 5,000 per page are cheaper; one `per_page=1` probe tells which.
 */
async function chooseStrategy(
  cc: CloudControllerClient,
  bound: number,
  size: number,
  signal?: AbortSignal,
): Promise<Strategy> {
  const filteredCost = 3 * Math.ceil(bound / size);
  if (filteredCost <= 6) return 'by-guid';
  const probe = (await cc.getJson(`${cc.apiUrl}/v3/apps?per_page=1`, { signal })) as {
    pagination?: { total_results?: number };
  };
  const visible = probe?.pagination?.total_results;
  if (typeof visible !== 'number') return 'by-guid';
  // Processes and routes are about as many as apps; each listing pages at 5,000.
  const fullCost = 3 * Math.max(1, Math.ceil(visible / 5000));
  return fullCost < filteredCost ? 'full' : 'by-guid';
}

/** One observation per wanted guid from what the listings held; an app they lack is 'gone'. */
function observationsOf(listing: Listing, guids: string[]): Omit<Observation, 'strategy'> {
  const wanted = new Set(guids);
  const spaces = byGuid(listing.spaces);
  const organizations = byGuid(listing.organizations);
  const domains = byGuid(listing.domains);
  const processesByApp = new Map<string, CcProcess[]>();
  for (const p of listing.processes) {
    const app = p.relationships.app.data.guid;
    if (wanted.has(app)) (processesByApp.get(app) ?? processesByApp.set(app, []).get(app)!).push(p);
  }
  const routesByApp = new Map<string, CcRoute[]>();
  const routeApps = new Map<string, string[]>();
  for (const r of listing.routes) {
    for (const app of new Set(r.destinations.map((d) => d.app.guid))) {
      if (!wanted.has(app)) continue;
      (routesByApp.get(app) ?? routesByApp.set(app, []).get(app)!).push(r);
      (routeApps.get(r.guid) ?? routeApps.set(r.guid, []).get(r.guid)!).push(app);
    }
  }
  const apps = new Map<string, AppObservation>();
  for (const app of listing.apps) {
    if (!wanted.has(app.guid)) continue;
    try {
      apps.set(app.guid, {
        kind: 'present',
        snapshot: buildSnapshot({
          app,
          spaces,
          organizations,
          processes: processesByApp.get(app.guid) ?? [],
          routes: routesByApp.get(app.guid) ?? [],
          domains,
        }),
      });
    } catch (err) {
      if (!(err instanceof ImplausibleAppError)) throw err;
      apps.set(app.guid, { kind: 'invalid', reason: err.message });
    }
  }
  for (const guid of guids) if (!apps.has(guid)) apps.set(guid, { kind: 'gone' });
  return { apps, routeApps };
}

/**
 * What the CC says about every bound app. Any failed, throttled or incomplete answer rejects:
 * a run never plans on partial information. Filtered (by-guid) answers are authoritative: an
 * app they lack is gone. Unfiltered ('full') listings page through a platform that changes
 * meanwhile, so an app, process or route can slip between pages: the caller must confirm by
 * guid what it would change on their word alone (see Reconciler).
 */
export async function observeApps(
  cc: CloudControllerClient,
  appGuids: string[],
  opts: ObserveOptions = {},
): Promise<Observation> {
  const size = opts.chunkSize ?? 100;
  const guids = [...new Set(appGuids)];
  if (guids.length === 0) return { apps: new Map(), strategy: 'none', routeApps: new Map() };
  const strategy = opts.strategy ?? (await chooseStrategy(cc, guids.length, size, opts.signal));
  const listing =
    strategy === 'full'
      ? await listEverything(cc, opts.signal)
      : await listByGuid(cc, guids, size, opts.concurrency ?? 4, opts.signal);
  return { ...observationsOf(listing, guids), strategy };
}

/**
 * A 'full' observation's word is confirmed by guid for `suspects`, the apps a plan on it would
 * change (`appsActedOn`). Their by-guid answers replace the listed ones in `observation`.
 * Returns how many apps were re-read: 0 means the plan made on the listings stands.
 */
export async function confirmByGuid(
  cc: CloudControllerClient,
  observation: Observation,
  suspects: string[],
  opts: ObserveOptions = {},
): Promise<number> {
  if (observation.strategy !== 'full' || suspects.length === 0) return 0;
  const confirmed = await observeApps(cc, suspects, { ...opts, strategy: 'by-guid' });
  for (const [guid, o] of confirmed.apps) observation.apps.set(guid, o);
  for (const [route, apps] of confirmed.routeApps) {
    const known = new Set([...(observation.routeApps.get(route) ?? []), ...apps]);
    observation.routeApps.set(route, [...known]);
  }
  return suspects.length;
}
