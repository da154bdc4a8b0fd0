import { CcBadResponseError } from './errors';
import type { CcApp, CcDomain, CcOrganization, CcProcess, CcRoute, CcSpace } from './types';

/**
 * Keep only the fields this project reads. A listing of 10,000 apps, processes and routes
 * otherwise holds every link, metadata map and health check in memory for the whole run; the
 * projection also checks the shape we rely on, so garbage fails loudly here.
 */
// A resource as it arrived: read field by field and checked, so `any` stops at this module.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Raw = Record<string, any>;

function need(ok: boolean, what: string): void {
  if (!ok) throw new CcBadResponseError(`the Cloud Controller returned a malformed ${what}`);
}

const guidOf = (rel: Raw | undefined): string => rel?.data?.guid;

export function projectApp(r: Raw): CcApp {
  need(
    typeof r?.guid === 'string' && typeof r.name === 'string' && typeof guidOf(r.relationships?.space) === 'string',
    'app',
  );
  return {
    guid: r.guid,
    name: r.name,
    state: r.state,
    created_at: r.created_at,
    updated_at: r.updated_at,
    relationships: { space: { data: { guid: guidOf(r.relationships.space) } } },
  };
}

export function projectSpace(r: Raw): CcSpace {
  need(typeof r?.guid === 'string' && typeof r.name === 'string', 'space');
  return {
    guid: r.guid,
    name: r.name,
    relationships: { organization: { data: { guid: guidOf(r.relationships?.organization) } } },
  };
}

export function projectOrganization(r: Raw): CcOrganization {
  need(typeof r?.guid === 'string' && typeof r.name === 'string', 'organization');
  return { guid: r.guid, name: r.name };
}

export function projectProcess(r: Raw): CcProcess {
  need(
    typeof r?.guid === 'string' && typeof r.instances === 'number' && typeof guidOf(r.relationships?.app) === 'string',
    'process',
  );
  return {
    guid: r.guid,
    type: r.type,
    instances: r.instances,
    created_at: r.created_at,
    updated_at: r.updated_at,
    relationships: { app: { data: { guid: guidOf(r.relationships.app) } } },
  };
}

export function projectRoute(r: Raw): CcRoute {
  need(
    typeof r?.guid === 'string' && Array.isArray(r.destinations) && typeof guidOf(r.relationships?.domain) === 'string',
    'route',
  );
  return {
    guid: r.guid,
    protocol: r.protocol,
    host: r.host ?? '',
    path: r.path ?? '',
    port: r.port ?? null,
    url: r.url ?? '',
    destinations: (r.destinations as Raw[]).map((d) => ({
      guid: d.guid,
      app: { guid: d.app?.guid, process: d.app?.process ? { type: d.app.process.type } : undefined },
    })),
    relationships: {
      domain: { data: { guid: guidOf(r.relationships.domain) } },
      space: { data: { guid: guidOf(r.relationships.space) } },
    },
  };
}

export function projectDomain(r: Raw): CcDomain {
  need(typeof r?.guid === 'string' && typeof r.name === 'string', 'domain');
  return { guid: r.guid, name: r.name, internal: r.internal === true, supported_protocols: r.supported_protocols };
}
