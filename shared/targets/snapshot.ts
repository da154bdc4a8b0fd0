import type { CcApp, CcDomain, CcOrganization, CcProcess, CcRoute, CcSpace } from '../cc/types';
import type { AppRoute, AppSnapshot } from './types';

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
    const toWeb = route.destinations.some(
      (d) => d.app.guid === appGuid && (d.app.process?.type ?? 'web') === 'web',
    );
    if (!toWeb) continue;
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

/** Joins the CC resources of one app into the shape rendering uses. */
export function buildSnapshot(src: SnapshotSources): AppSnapshot {
  const space = src.spaces.get(src.app.relationships.space.data.guid);
  const org = space ? src.organizations.get(space.relationships.organization.data.guid) : undefined;
  return {
    guid: src.app.guid,
    name: src.app.name,
    state: src.app.state,
    spaceName: space?.name ?? '',
    orgName: org?.name ?? '',
    instances: webInstances(src.processes.filter((p) => p.relationships.app.data.guid === src.app.guid)),
    routes: routesOfApp(src.app.guid, src.routes, src.domains),
  };
}

export function byGuid<T extends { guid: string }>(items: T[]): Map<string, T> {
  return new Map(items.map((i) => [i.guid, i]));
}
