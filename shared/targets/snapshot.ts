import { appOfProcess, routesToWebOf } from '../cc/relations';
import type { CcApp, CcDomain, CcOrganization, CcProcess, CcRoute, CcSpace } from '../cc/types';
import type { AppRoute, AppSnapshot } from './types';

/**
 * Most instances of one app this service scrapes (the target-file schema allows as many
 * groups). CF's own quotas stop far below; a count beyond it is a broken or hostile answer,
 * and rendering it would allocate one target group per claimed instance.
 */
export const MAX_INSTANCES_PER_APP = 5000;

/** An app the Cloud Controller describes in a way we refuse to render (e.g. 50,000,000 instances). */
export class ImplausibleAppError extends Error {
  constructor(readonly appGuid: string, readonly appName: string, readonly reason: string) {
    super(`app ${appName} (${appGuid}) ${reason}`);
    this.name = 'ImplausibleAppError';
  }
}

/** Throws ImplausibleAppError unless `instances` is a whole number from 0 to MAX_INSTANCES_PER_APP. */
export function checkInstances(app: { guid: string; name: string }, instances: unknown): void {
  if (typeof instances !== 'number' || !Number.isInteger(instances) || instances < 0) {
    throw new ImplausibleAppError(app.guid, app.name, `reports ${JSON.stringify(instances)} web instances, which is not a count of instances`);
  }
  if (instances > MAX_INSTANCES_PER_APP) {
    throw new ImplausibleAppError(app.guid, app.name, `reports ${instances} web instances, more than the ${MAX_INSTANCES_PER_APP} this service scrapes per app`);
  }
}

/**
 * During a rolling deploy CC lists two `web` processes for one app. Instance indices of
 * both are addressable through X-CF-APP-INSTANCE (`<guid>:<index>`), so we scrape up to
 * the larger of the two instance counts: no index that still answers loses its target
 * while the deploy runs, and the count settles when the old process goes.
 */
export function webInstances(processes: CcProcess[]): number {
  return processes.filter((p) => p.type === 'web').reduce((max, p) => Math.max(max, p.instances), 0);
}

/** The app's routes that send traffic to its web process, in the order CC listed them. */
export function routesOfApp(appGuid: string, routes: CcRoute[], domainsByGuid: Map<string, CcDomain>): AppRoute[] {
  const out: AppRoute[] = [];
  for (const route of routes) {
    if (!routesToWebOf(route, appGuid)) continue;
    const domain = domainsByGuid.get(route.relationships.domain.data.guid);
    if (!domain) continue; // a route whose domain we cannot see cannot be scraped by name
    out.push({
      host: route.host,
      domain: domain.name,
      path: route.path ?? '',
      protocol: route.protocol,
      internal: domain.internal === true,
    });
  }
  return out;
}

export interface SnapshotSources {
  app: CcApp;
  spaces: Map<string, CcSpace>;
  organizations: Map<string, CcOrganization>;
  processes: CcProcess[];
  routes: CcRoute[];
  domains: Map<string, CcDomain>;
}

/** Joins the CC resources of one app into the shape rendering uses; ImplausibleAppError for absurd instance counts. */
export function buildSnapshot(src: SnapshotSources): AppSnapshot {
  const space = src.spaces.get(src.app.relationships.space.data.guid);
  const org = space ? src.organizations.get(space.relationships.organization.data.guid) : undefined;
  for (const p of src.processes) if (p.type === 'web' && appOfProcess(p) === src.app.guid) checkInstances(src.app, p.instances);
  const snapshot: AppSnapshot = {
    guid: src.app.guid,
    name: src.app.name,
    state: src.app.state,
    spaceName: space?.name ?? '',
    orgName: org?.name ?? '',
    instances: webInstances(src.processes.filter((p) => appOfProcess(p) === src.app.guid)),
    routes: routesOfApp(src.app.guid, src.routes, src.domains),
  };
  // Only what the CC client kept (APP_LABELS keys, prometheus.io annotations): absent otherwise.
  if (src.app.metadata?.labels) snapshot.labels = src.app.metadata.labels;
  if (src.app.metadata?.annotations) snapshot.annotations = src.app.metadata.annotations;
  return snapshot;
}

/** Resources by their guid, for the joins buildSnapshot makes. */
export function byGuid<T extends { guid: string }>(items: T[]): Map<string, T> {
  return new Map(items.map((i) => [i.guid, i]));
}
