/**
 * What the system this project replaces (alphagov/cf_app_discovery, a Ruby clock process) asked
 * the CC on every run: every app on the platform in pages of 50 (`/v2/apps`), then for each app
 * its space and org (GETs cached by URL, so once per distinct space/org), its routes (one call
 * per app), the shared-domain list (once, to skip internal domains) and the chosen route's
 * domain (cached, once per domain). One request at a time.
 */
import type { CloudControllerClient } from '../../shared/cc';
import type { Platform } from './emulator-control';

/** ceil(V/50) app pages + V routes calls + one per distinct space, org, domain + 1 domain list. */
export function oldAlgorithmRequests(p: Pick<Platform, 'visible' | 'spaces' | 'orgs' | 'domains'>): number {
  return Math.ceil(p.visible / 50) + p.visible + p.spaces + p.orgs + p.domains + 1;
}

interface Page<T> {
  resources: T[];
  pagination: { next: { href: string } | null };
}
interface App {
  guid: string;
  relationships: { space: { data: { guid: string } } };
}
interface Space {
  relationships: { organization: { data: { guid: string } } };
}
interface Route {
  path: string;
  relationships: { domain: { data: { guid: string } } };
}
interface Domain {
  guid: string;
  internal: boolean;
}

/**
 * The same walk in v3 terms, sequential as the Ruby process was, against a real HTTP CC (the
 * emulator). Returns the requests it made, counted by the client. v2 apps carried their
 * instance count; a v3 port would need one more call per app for processes, which this leaves
 * out so the count stays the old algorithm's (a lower bound for a v3 port).
 */
export async function reenactOldAlgorithm(
  cc: CloudControllerClient,
): Promise<{ requests: number; apps: number; targets: number }> {
  const before = cc.requestCount;
  const cache = new Map<string, unknown>();
  // The Ruby client cached every GET by URL (faraday manual_cache) for CACHE_EXPIRY_TIME.
  const get = async <T>(path: string): Promise<T> => {
    if (!cache.has(path)) cache.set(path, await cc.getJson(`${cc.apiUrl}${path}`));
    return cache.get(path) as T;
  };
  const apps: App[] = [];
  for (let url: string | undefined = `${cc.apiUrl}/v3/apps?per_page=50`; url;) {
    const page = (await cc.getJson(url)) as Page<App>;
    apps.push(...page.resources);
    url = page.pagination.next?.href;
  }
  let targets = 0;
  for (const app of apps) {
    const space = await get<Space>(`/v3/spaces/${app.relationships.space.data.guid}`);
    await get<unknown>(`/v3/organizations/${space.relationships.organization.data.guid}`);
    const routes = await get<Page<Route>>(`/v3/apps/${app.guid}/routes`);
    const domains = await get<Page<Domain>>('/v3/domains');
    const internal = new Set(domains.resources.filter((d) => d.internal).map((d) => d.guid));
    const usable = routes.resources.filter((r) => !internal.has(r.relationships.domain.data.guid));
    const chosen = usable.find((r) => r.path.endsWith('metrics')) ?? usable[0];
    if (!chosen) continue; // the old code guessed `<name>.<paas domain>` here, without a request
    await get<unknown>(`/v3/domains/${chosen.relationships.domain.data.guid}`);
    targets++;
  }
  return { requests: cc.requestCount - before, apps: apps.length, targets };
}
