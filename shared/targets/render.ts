import { checkInstances } from './snapshot';
import { HOST_NAME_REGEX, MAX_ROUTE_PATH_LENGTH, PATH_REGEX } from './host';
import type { AppRoute, AppSnapshot, RenderedTargets, TargetGroup, TargetOptions } from './types';

/**
 * Job names of the platform's own components. An app named like one of them would otherwise
 * put its series under the job of cf-app-discovery, the cf-apps scrape job or Prometheus
 * itself; its job becomes `app-<name>` instead. deploy/prometheus/ uses the same expression.
 */
export const RESERVED_JOB_PATTERN = '^(cf-app-discovery(-.*)?|cf-apps|prometheus)$';
export const RESERVED_JOB_REGEX = new RegExp(RESERVED_JOB_PATTERN);

/**
 * Blue-green deploys rename the old app `<name>-venerable`; keeping the job keeps its series.
 * A name that is nothing but the suffix keeps it (an empty job would become the scrape job's).
 */
export function jobName(appName: string): string {
  const job = appName.replace(/(.)-venerable$/s, '$1');
  return RESERVED_JOB_REGEX.test(job) ? `app-${job}` : job;
}

function isPublicHttp(route: AppRoute): boolean {
  return route.protocol === 'http' && !route.internal;
}

/**
 * A route Prometheus can address by name: a plain host name (not a wildcard `*.domain`, no
 * port) and a plain path. Anything else could not pass the target file schema.
 */
function isAddressable(route: AppRoute): boolean {
  return HOST_NAME_REGEX.test(routeHost(route))
    && (route.path === '' || (route.path.length <= MAX_ROUTE_PATH_LENGTH && !route.path.endsWith('/') && PATH_REGEX.test(route.path)));
}

/** A route whose path ends in `metrics` is meant for scraping; otherwise the first public route. */
export function chooseRoute(routes: AppRoute[]): AppRoute | undefined {
  const candidates = routes.filter((r) => isPublicHttp(r) && isAddressable(r));
  return candidates.find((r) => /metrics$/.test(r.path)) ?? candidates[0];
}

export function routeHost(route: AppRoute): string {
  return route.host ? `${route.host}.${route.domain}` : route.domain;
}

/**
 * `__metrics_path__`: the route's own path when it already ends in `metrics`; otherwise the
 * requested path (relative to the route) or `/metrics`, under the route's path.
 */
export function metricsPath(route: AppRoute, requested?: string): string {
  if (requested) return `${route.path}${requested}`;
  if (/metrics$/.test(route.path)) return route.path;
  return `${route.path}/metrics`;
}

function describeRoutes(routes: AppRoute[]): string {
  if (routes.length === 0) return 'the app has no routes; map a public route (cf map-route) to have it scraped';
  const kinds = routes.map((r) => {
    const name = JSON.stringify(`${routeHost(r)}${r.path}`.slice(0, 300)).slice(1, -1);
    if (r.internal) return `${name} (internal domain)`;
    if (isPublicHttp(r)) return `${name} (not a plain host name and path: wildcard, port or unusual characters)`;
    return `${name} (${r.protocol} route)`;
  });
  return `the app has no public http route, only ${kinds.join(', ')}; map a public route (cf map-route) to have it scraped`;
}

/** The target groups for one binding of one app: one group per instance, or none and why. */
export function renderTargets(app: AppSnapshot, options: TargetOptions = {}): RenderedTargets {
  if (options.optedOut) {
    return {
      groups: [],
      status: {
        state: 'inactive',
        reason: 'opted-out',
        detail: `app ${app.name} opted out of scraping with the annotation prometheus.io/scrape: "false"; remove it (or set it to "true") to have it scraped`,
      },
    };
  }
  if (app.state !== 'STARTED') {
    return { groups: [], status: { state: 'inactive', reason: 'app-stopped', detail: `app ${app.name} is stopped; targets appear when it is started` } };
  }
  // One group per instance: a count nobody checked must never reach the loop below.
  checkInstances(app, app.instances);
  if (app.instances < 1) {
    return { groups: [], status: { state: 'inactive', reason: 'no-instances', detail: `app ${app.name} is scaled to 0 instances` } };
  }
  const route = chooseRoute(app.routes);
  if (!route) {
    return { groups: [], status: { state: 'inactive', reason: 'no-public-route', detail: describeRoutes(app.routes) } };
  }
  const host = routeHost(route);
  const path = metricsPath(route, options.path);
  const extra = Object.entries(options.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const groups: TargetGroup[] = [];
  for (let index = 0; index < app.instances; index++) {
    const instance = `${app.guid}:${index}`;
    const labels: Record<string, string> = {
      job: jobName(app.name),
      org: app.orgName,
      space: app.spaceName,
      instance,
      __param_cf_app_guid: app.guid,
      __param_cf_app_instance_index: String(index),
      __param_cf_app_instance: instance,
      __metrics_path__: path,
    };
    // The forward proxy always talks https to the app unless told otherwise through this
    // parameter; `__scheme__` would make Prometheus send CONNECT to the proxy instead.
    if (options.scheme) labels.__param_cf_app_scheme = options.scheme;
    if (options.scrapeInterval) labels.__scrape_interval__ = options.scrapeInterval;
    if (options.scrapeTimeout) labels.__scrape_timeout__ = options.scrapeTimeout;
    for (const [name, value] of extra) labels[name] = value;
    groups.push({ targets: [host], labels });
  }
  return { groups, status: { state: 'active', targets: groups.length, route: `${host}${route.path}`, metricsPath: path } };
}
