import type { App, CredentialBinding, Domain, Org, PlatformState, Process, Route, Space } from './state';

/** v3 JSON shapes, as documented for CC (fields this project and a careful client look at). */
export function presentApp(base: string, a: App) {
  return {
    guid: a.guid,
    name: a.name,
    state: a.state,
    created_at: a.created_at,
    updated_at: a.updated_at,
    lifecycle: { type: 'buildpack', data: { buildpacks: ['nodejs_buildpack'], stack: 'cflinuxfs4' } },
    relationships: { space: { data: { guid: a.spaceGuid } }, current_droplet: { data: { guid: `droplet-${a.guid}` } } },
    metadata: { labels: { ...a.labels }, annotations: { ...a.annotations } },
    links: {
      self: { href: `${base}/v3/apps/${a.guid}` },
      space: { href: `${base}/v3/spaces/${a.spaceGuid}` },
      processes: { href: `${base}/v3/apps/${a.guid}/processes` },
    },
  };
}

export function presentSpace(base: string, s: Space) {
  return {
    guid: s.guid,
    name: s.name,
    created_at: s.created_at,
    updated_at: s.created_at,
    suspended: false,
    relationships: { organization: { data: { guid: s.orgGuid } }, quota: { data: null } },
    metadata: { labels: {}, annotations: {} },
    links: { self: { href: `${base}/v3/spaces/${s.guid}` } },
  };
}

export function presentOrg(base: string, o: Org) {
  return {
    guid: o.guid,
    name: o.name,
    created_at: o.created_at,
    updated_at: o.created_at,
    suspended: false,
    relationships: { quota: { data: null } },
    metadata: { labels: {}, annotations: {} },
    links: { self: { href: `${base}/v3/organizations/${o.guid}` } },
  };
}

export function presentProcess(base: string, p: Process) {
  return {
    guid: p.guid,
    type: p.type,
    command: '[PRIVATE DATA HIDDEN IN LISTS]',
    user: 'vcap',
    instances: p.instances,
    memory_in_mb: 256,
    disk_in_mb: 1024,
    log_rate_limit_in_bytes_per_second: -1,
    health_check: { type: 'port', data: { timeout: null, invocation_timeout: null, interval: null } },
    relationships: { app: { data: { guid: p.appGuid } }, revision: { data: null } },
    metadata: { labels: {}, annotations: {} },
    created_at: p.created_at,
    updated_at: p.updated_at,
    version: p.guid,
    links: {
      self: { href: `${base}/v3/processes/${p.guid}` },
      app: { href: `${base}/v3/apps/${p.appGuid}` },
      stats: { href: `${base}/v3/processes/${p.guid}/stats` },
    },
  };
}

export function presentRoute(base: string, state: PlatformState, r: Route) {
  const domain = state.domains.get(r.domainGuid)!;
  const tcp = domain.protocols.includes('tcp');
  const url = tcp && r.port ? `${domain.name}:${r.port}` : `${r.host ? `${r.host}.` : ''}${domain.name}${r.path}`;
  return {
    guid: r.guid,
    protocol: tcp ? 'tcp' : 'http',
    host: r.host,
    path: r.path,
    port: r.port,
    url,
    created_at: r.created_at,
    updated_at: r.created_at,
    destinations: r.destinations.map((d) => ({
      guid: d.guid,
      app: { guid: d.appGuid, process: { type: d.processType } },
      weight: null,
      port: 8080,
      protocol: tcp ? null : 'http1',
    })),
    metadata: { labels: {}, annotations: {} },
    relationships: { space: { data: { guid: r.spaceGuid } }, domain: { data: { guid: r.domainGuid } } },
    links: { self: { href: `${base}/v3/routes/${r.guid}` }, domain: { href: `${base}/v3/domains/${r.domainGuid}` } },
  };
}

export function presentDomain(base: string, d: Domain) {
  return {
    guid: d.guid,
    name: d.name,
    internal: d.internal,
    router_group: null,
    supported_protocols: d.protocols,
    created_at: d.created_at,
    updated_at: d.created_at,
    metadata: { labels: {}, annotations: {} },
    relationships: { organization: { data: null }, shared_organizations: { data: [] } },
    links: { self: { href: `${base}/v3/domains/${d.guid}` } },
  };
}

export function presentBinding(base: string, b: CredentialBinding) {
  return {
    guid: b.guid,
    name: b.name,
    type: b.type,
    created_at: b.created_at,
    updated_at: b.created_at,
    last_operation: {
      type: 'create',
      state: 'succeeded',
      description: null,
      created_at: b.created_at,
      updated_at: b.created_at,
    },
    metadata: { labels: {}, annotations: {} },
    relationships: {
      ...(b.appGuid ? { app: { data: { guid: b.appGuid } } } : {}),
      service_instance: { data: { guid: b.instanceGuid } },
    },
    links: { self: { href: `${base}/v3/service_credential_bindings/${b.guid}` } },
  };
}

export function ccError(status: number, title: string, code: number, detail: string) {
  return { status, body: { errors: [{ detail, title, code }] } };
}
