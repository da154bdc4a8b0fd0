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

/**
 * What this project reads of an app's metadata: the label keys an operator lists (APP_LABELS)
 * and the prometheus.io annotations, never the whole maps (10,000 apps may carry many).
 */
export interface MetadataKeep {
  labelKeys: readonly string[];
  annotationKeys: readonly string[];
  /** Longer kept values are cut to this length (they are invalid anyway, and stay so). */
  maxValueLength: number;
}

function pick(map: unknown, keys: readonly string[], maxLength: number): Record<string, string> | undefined {
  if (keys.length === 0 || typeof map !== 'object' || map === null || Array.isArray(map)) return undefined;
  let out: Record<string, string> | undefined;
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(map, key)) continue;
    const value = (map as Raw)[key];
    if (typeof value !== 'string') continue;
    (out ??= {})[key] = value.length > maxLength ? value.slice(0, maxLength) : value;
  }
  return out;
}

export function projectApp(r: Raw, keep?: MetadataKeep): CcApp {
  need(
    typeof r?.guid === 'string' && typeof r.name === 'string' && typeof guidOf(r.relationships?.space) === 'string',
    'app',
  );
  const app: CcApp = {
    guid: r.guid,
    name: r.name,
    state: r.state,
    created_at: r.created_at,
    updated_at: r.updated_at,
    relationships: { space: { data: { guid: guidOf(r.relationships.space) } } },
  };
  const metadata = projectAppMetadata(r, keep);
  if (metadata) app.metadata = metadata;
  return app;
}

/** The kept part of an app's metadata, or undefined when none of the kept keys is set. */
export function projectAppMetadata(r: Raw, keep: MetadataKeep | undefined): CcApp['metadata'] {
  if (!keep) return undefined;
  const labels = pick(r?.metadata?.labels, keep.labelKeys, keep.maxValueLength);
  const annotations = pick(r?.metadata?.annotations, keep.annotationKeys, keep.maxValueLength);
  return labels || annotations ? { labels, annotations } : undefined;
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
