/**
 * The four single-resource GETs the old clock process made per app, which the emulator
 * (emulator/) does not serve (nothing in this project calls them): GET /v3/spaces/:guid,
 * /v3/organizations/:guid, /v3/domains/:guid and /v3/apps/:guid/routes. The old algorithm's
 * re-enactment (old-algorithm.ts) needs real answers to count real requests.
 *
 * Why a patch of a private method: the emulator ships with the demo and serves only what this
 * project calls, so the old algorithm's extra endpoints stay here with the one benchmark that
 * needs them; wrapping its router keeps authentication, latency, faults and the request log
 * exactly as for every other endpoint. If the router's name or shape changes this fails at startup.
 */
import type { CcEmulator } from '../../emulator';
import { paginate, parseListQuery } from '../../emulator/listing';
import { ccError, presentDomain, presentOrg, presentRoute, presentSpace } from '../../emulator/presenters';

interface Answer {
  status: number;
  body?: unknown;
}
type V3Router = (path: string, q: URLSearchParams, user: string) => Answer;

export function addSingleResourceEndpoints(cc: CcEmulator): void {
  const patched = cc as unknown as { v3: V3Router };
  if (typeof patched.v3 !== 'function')
    throw new Error('emulator-extras: CcEmulator has no v3 router to extend; update bench/support/emulator-extras.ts');
  const inner = patched.v3.bind(cc);
  patched.v3 = (path, q, user) => extra(cc, path, q, user) ?? inner(path, q, user);
}

function extra(cc: CcEmulator, path: string, q: URLSearchParams, user: string): Answer | undefined {
  const notFound = (what: string) => ccError(404, 'CF-ResourceNotFound', 10010, `${what} not found`);
  let m: RegExpExecArray | null;
  if ((m = /^\/v3\/spaces\/([^/]+)$/.exec(path))) {
    const space = cc.spaces.get(m[1]);
    return space && cc.canSeeSpace(user, space.guid)
      ? { status: 200, body: presentSpace(cc.url, space) }
      : notFound('Space');
  }
  if ((m = /^\/v3\/organizations\/([^/]+)$/.exec(path))) {
    const org = cc.orgs.get(m[1]);
    const visible = org && [...cc.spaces.values()].some((s) => s.orgGuid === org.guid && cc.canSeeSpace(user, s.guid));
    return org && visible ? { status: 200, body: presentOrg(cc.url, org) } : notFound('Organization');
  }
  if ((m = /^\/v3\/domains\/([^/]+)$/.exec(path))) {
    const domain = cc.domains.get(m[1]); // shared domains: visible to every user
    return domain ? { status: 200, body: presentDomain(cc.url, domain) } : notFound('Domain');
  }
  if ((m = /^\/v3\/apps\/([^/]+)\/routes$/.exec(path))) {
    const app = cc.apps.get(m[1]);
    if (!app || !cc.canSeeSpace(user, app.spaceGuid)) return notFound('App');
    const lq = parseListQuery(q, []);
    const routes = [...cc.routes.values()].filter((r) => r.destinations.some((d) => d.appGuid === app.guid));
    const page = paginate(cc.url, path, lq, routes);
    return {
      status: 200,
      body: { pagination: page.pagination, resources: page.resources.map((r) => presentRoute(cc.url, cc, r)) },
    };
  }
  return undefined;
}
