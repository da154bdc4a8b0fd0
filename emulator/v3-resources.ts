import type { Answer } from './answer';
import { answerAuditEvents } from './audit-events';
import { ListQuery, paginate, parseListQuery, sortByCreated } from './listing';
import {
  ccError,
  presentApp,
  presentBinding,
  presentDomain,
  presentOrg,
  presentProcess,
  presentRoute,
  presentSpace,
} from './presenters';
import type { PlatformState } from './state';

/**
 * The CC v3 GETs this project makes (apps, processes, routes, domains, credential bindings),
 * answered from the platform's state as `user` may see it. `base` is the emulator's URL, which
 * every link in an answer starts with.
 */
export function answerV3(state: PlatformState, base: string, path: string, q: URLSearchParams, user: string): Answer {
  const visibleApp = (guid: string) => {
    const a = state.apps.get(guid);
    return a && state.canSeeSpace(user, a.spaceGuid) ? a : undefined;
  };
  const notFound = (what: string) => ccError(404, 'CF-ResourceNotFound', 10010, `${what} not found`);
  const list = listAnswer(base);
  let m: RegExpExecArray | null;
  const audit = answerAuditEvents(state, base, path, q, user);
  if (audit) return audit;
  if ((m = /^\/v3\/apps\/([^/]+)$/.exec(path))) {
    const app = visibleApp(m[1]);
    if (!app) return notFound('App');
    const include = q.get('include');
    const out: Record<string, unknown> = presentApp(base, app);
    if (include && include.split(',').some((i) => i === 'space' || i === 'space.organization')) {
      const space = state.spaces.get(app.spaceGuid)!;
      out.included = {
        spaces: [presentSpace(base, space)],
        ...(include.includes('space.organization')
          ? { organizations: [presentOrg(base, state.orgs.get(space.orgGuid)!)] }
          : {}),
      };
    }
    return { status: 200, body: out };
  }
  if ((m = /^\/v3\/apps\/([^/]+)\/processes(\/web)?$/.exec(path))) {
    if (!visibleApp(m[1])) return notFound('App');
    const webs = state.webProcesses(m[1]);
    if (m[2])
      return webs.length ? { status: 200, body: presentProcess(base, webs[webs.length - 1]) } : notFound('Process');
    const lq = parseListQuery(q, ['types']);
    const types = lq.filters.get('types');
    const procs = [...state.processes.values()].filter((p) => p.appGuid === m![1] && (!types || types.has(p.type)));
    return list(
      path,
      lq,
      procs.map((p) => presentProcess(base, p)),
    );
  }
  if (path === '/v3/apps') {
    const lq = parseListQuery(q, ['guids', 'names', 'space_guids', 'organization_guids']);
    const f = lq.filters;
    const source = f.has('guids')
      ? [...f.get('guids')!].map((g) => state.apps.get(g)).filter((a) => a !== undefined)
      : [...state.apps.values()];
    const apps = source.filter(
      (a) =>
        state.canSeeSpace(user, a.spaceGuid) &&
        (!f.has('names') || f.get('names')!.has(a.name)) &&
        (!f.has('space_guids') || f.get('space_guids')!.has(a.spaceGuid)),
    );
    if (f.has('guids')) apps.sort((a, b) => a.created_at.localeCompare(b.created_at));
    return list(
      path,
      lq,
      apps,
      (page) => {
        if (!lq.include) return undefined;
        const spaces = sortByCreated(new Set(page.map((a) => state.spaces.get(a.spaceGuid)!)));
        const inc: Record<string, unknown[]> = { spaces: spaces.map((s) => presentSpace(base, s)) };
        if (lq.include.includes('space.organization'))
          inc.organizations = sortByCreated(new Set(spaces.map((s) => state.orgs.get(s.orgGuid)!))).map((o) =>
            presentOrg(base, o),
          );
        return inc;
      },
      (a) => presentApp(base, a),
    );
  }
  if (path === '/v3/processes') {
    const lq = parseListQuery(q, ['app_guids', 'types', 'guids', 'space_guids']);
    const f = lq.filters;
    const procs = [...state.processes.values()].filter(
      (p) =>
        (!f.has('app_guids') || f.get('app_guids')!.has(p.appGuid)) &&
        (!f.has('types') || f.get('types')!.has(p.type)) &&
        (!f.has('guids') || f.get('guids')!.has(p.guid)) &&
        !!visibleApp(p.appGuid),
    );
    return list(
      path,
      lq,
      procs.map((p) => presentProcess(base, p)),
    );
  }
  if (path === '/v3/routes') {
    const lq = parseListQuery(q, ['app_guids', 'domain_guids', 'hosts', 'space_guids']);
    const f = lq.filters;
    const routes = [...state.routes.values()].filter(
      (r) =>
        state.canSeeSpace(user, r.spaceGuid) &&
        (!f.has('app_guids') || r.destinations.some((d) => f.get('app_guids')!.has(d.appGuid))) &&
        (!f.has('domain_guids') || f.get('domain_guids')!.has(r.domainGuid)) &&
        (!f.has('hosts') || f.get('hosts')!.has(r.host)),
    );
    return list(
      path,
      lq,
      routes,
      (page) =>
        lq.include === 'domain'
          ? {
              domains: [...new Set(page.map((r) => state.domains.get(r.domainGuid)!))]
                .sort((a, b) => a.name.localeCompare(b.name))
                .map((d) => presentDomain(base, d)),
            }
          : undefined,
      (r) => presentRoute(base, state, r),
    );
  }
  if (path === '/v3/domains') {
    const lq = parseListQuery(q, ['names', 'guids']);
    const f = lq.filters;
    const domains = [...state.domains.values()].filter(
      (d) => (!f.has('names') || f.get('names')!.has(d.name)) && (!f.has('guids') || f.get('guids')!.has(d.guid)),
    );
    return list(
      path,
      lq,
      domains.map((d) => presentDomain(base, d)),
    );
  }
  if (path === '/v3/service_credential_bindings') {
    const lq = parseListQuery(q, ['guids', 'type', 'app_guids', 'service_instance_guids']);
    const f = lq.filters;
    const bs = [...state.bindings.values()].filter(
      (b) =>
        (!f.has('guids') || f.get('guids')!.has(b.guid)) &&
        (!f.has('type') || f.get('type')!.has(b.type)) &&
        (!f.has('app_guids') || (b.appGuid !== undefined && f.get('app_guids')!.has(b.appGuid))),
    );
    return list(
      path,
      lq,
      bs.map((b) => presentBinding(base, b)),
    );
  }
  return ccError(404, 'CF-NotFound', 10000, 'Unknown request');
}

/** A list page: the requested page of `all`, presented, with what `include` asked for. */
function listAnswer(base: string) {
  return <T>(
    path: string,
    lq: ListQuery,
    all: T[],
    included?: (page: T[]) => Record<string, unknown[]> | undefined,
    present?: (item: T) => unknown,
  ): Answer => {
    const page = paginate(base, path, lq, all);
    const body: Record<string, unknown> = {
      pagination: page.pagination,
      resources: present ? page.resources.map(present) : page.resources,
    };
    const inc = included?.(page.resources);
    if (inc) body.included = inc;
    return { status: 200, body };
  };
}
