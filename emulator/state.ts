import { randomUUID } from 'node:crypto';
import { AuditEventInput, AuditLog, routeMappingData } from './audit-log';

import type { App, CredentialBinding, Domain, Org, Principal, Process, Route, Space } from './resources';

export type { Org, Space, Domain, App, Process, Destination, Route, CredentialBinding, Principal } from './resources';

let clock = Date.parse('2026-01-01T00:00:00Z');
/** Strictly increasing timestamps so "newest created_at" is always well defined. */
const stamp = () => new Date((clock += 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The platform the emulator pretends to be: orgs, spaces, domains, apps, processes, routes. */
export class PlatformState {
  readonly orgs = new Map<string, Org>();
  readonly spaces = new Map<string, Space>();
  readonly domains = new Map<string, Domain>();
  readonly apps = new Map<string, App>();
  readonly processes = new Map<string, Process>();
  readonly routes = new Map<string, Route>();
  readonly bindings = new Map<string, CredentialBinding>();
  readonly principals = new Map<string, Principal>();
  /** The audit events' clock (ms), apart from the resources' fake one so tests can put events in one second. */
  eventClock: () => number = () => Date.now();
  readonly auditLog = new AuditLog(
    () => this.eventClock(),
    (spaceGuid) => this.spaces.get(spaceGuid)?.orgGuid,
  );

  addUser(username: string, password: string, opts: { globalRead?: boolean } = {}) {
    this.principals.set(username, {
      secret: password,
      kind: 'user',
      spaces: new Set(),
      globalRead: opts.globalRead ?? false,
    });
  }
  addClient(clientId: string, secret: string, opts: { globalRead?: boolean } = {}) {
    this.principals.set(clientId, { secret, kind: 'client', spaces: new Set(), globalRead: opts.globalRead ?? false });
  }
  grantSpaceRole(principal: string, spaceGuid: string) {
    this.need(this.principals.get(principal), `principal ${principal}`).spaces.add(spaceGuid);
  }
  grantGlobalRead(principal: string) {
    this.need(this.principals.get(principal), `principal ${principal}`).globalRead = true;
  }
  /** Makes GET /v3/audit_events answer `principal` 403 CF-NotAuthorized. */
  denyAuditEvents(principal: string) {
    this.auditLog.denied.add(principal);
  }
  /** Records an arbitrary event (an old one, one for an unknown app, ...) as the CC would list it. */
  recordAuditEvent(e: AuditEventInput) {
    return this.auditLog.record(e);
  }
  canSeeSpace(principal: string | undefined, spaceGuid: string): boolean {
    const p = principal ? this.principals.get(principal) : undefined;
    return !!p && (p.globalRead || p.spaces.has(spaceGuid));
  }

  addOrg(name: string): Org {
    const org = { guid: randomUUID(), name, created_at: stamp() };
    this.orgs.set(org.guid, org);
    return org;
  }
  addSpace(orgGuid: string, name: string): Space {
    this.need(this.orgs.get(orgGuid), `org ${orgGuid}`);
    const space = { guid: randomUUID(), name, orgGuid, created_at: stamp() };
    this.spaces.set(space.guid, space);
    return space;
  }
  addDomain(name: string, opts: { internal?: boolean; protocols?: string[] } = {}): Domain {
    const existing = [...this.domains.values()].find((d) => d.name === name);
    if (existing) return existing;
    const domain = {
      guid: randomUUID(),
      name,
      internal: opts.internal ?? false,
      protocols: opts.protocols ?? ['http'],
      created_at: stamp(),
    };
    this.domains.set(domain.guid, domain);
    return domain;
  }
  addApp(o: {
    name: string;
    spaceGuid: string;
    state?: 'STARTED' | 'STOPPED';
    instances?: number;
    guid?: string;
  }): App {
    this.need(this.spaces.get(o.spaceGuid), `space ${o.spaceGuid}`);
    const at = stamp();
    const app: App = {
      guid: o.guid ?? randomUUID(),
      name: o.name,
      spaceGuid: o.spaceGuid,
      state: o.state ?? 'STARTED',
      created_at: at,
      updated_at: at,
    };
    this.apps.set(app.guid, app);
    this.addProcess(app.guid, o.instances ?? 1);
    this.appEvent('audit.app.create', app, { request: { name: app.name, space_guid: app.spaceGuid } });
    return app;
  }
  private addProcess(appGuid: string, instances: number): Process {
    const at = stamp();
    const proc = { guid: randomUUID(), appGuid, type: 'web', instances, created_at: at, updated_at: at };
    this.processes.set(proc.guid, proc);
    return proc;
  }
  webProcesses(appGuid: string): Process[] {
    return [...this.processes.values()].filter((p) => p.appGuid === appGuid && p.type === 'web');
  }
  addRoute(o: { host: string; domainGuid: string; spaceGuid: string; path?: string; port?: number }): Route {
    this.need(this.domains.get(o.domainGuid), `domain ${o.domainGuid}`);
    const route = {
      guid: randomUUID(),
      host: o.host,
      path: o.path ?? '',
      port: o.port ?? null,
      domainGuid: o.domainGuid,
      spaceGuid: o.spaceGuid,
      destinations: [],
      created_at: stamp(),
    };
    this.routes.set(route.guid, route);
    this.routeEvent('audit.route.create', route, { request: { host: route.host, path: route.path } });
    return route;
  }
  mapRoute(routeGuid: string, appGuid: string, processType = 'web') {
    const app = this.need(this.apps.get(appGuid), `app ${appGuid}`);
    const destination = { guid: randomUUID(), appGuid, processType };
    this.need(this.routes.get(routeGuid), `route ${routeGuid}`).destinations.push(destination);
    this.appEvent('audit.app.map-route', app, routeMappingData(routeGuid, destination));
  }
  unmapRoute(routeGuid: string, appGuid: string) {
    const route = this.need(this.routes.get(routeGuid), `route ${routeGuid}`);
    const app = this.apps.get(appGuid);
    for (const d of route.destinations.filter((x) => x.appGuid === appGuid))
      if (app) this.appEvent('audit.app.unmap-route', app, routeMappingData(routeGuid, d));
    route.destinations = route.destinations.filter((d) => d.appGuid !== appGuid);
  }
  deleteRoute(routeGuid: string) {
    const route = this.routes.get(routeGuid);
    this.routes.delete(routeGuid);
    if (route) this.routeEvent('audit.route.delete-request', route, { request: { recursive: false } });
  }
  scale(appGuid: string, instances: number) {
    const app = this.apps.get(appGuid);
    for (const p of this.webProcesses(appGuid)) {
      p.instances = instances;
      p.updated_at = stamp();
      const request = { instances };
      if (app) this.appEvent('audit.app.process.scale', app, { process_guid: p.guid, process_type: p.type, request });
    }
  }
  /** Stopping changes the desired state only; processes keep their instance counts, as in CC. */
  stopApp(appGuid: string) {
    const app = this.need(this.apps.get(appGuid), `app ${appGuid}`);
    app.state = 'STOPPED';
    app.updated_at = stamp();
    this.appEvent('audit.app.stop', app, { request: { state: 'STOPPED' } });
  }
  startApp(appGuid: string) {
    const app = this.need(this.apps.get(appGuid), `app ${appGuid}`);
    app.state = 'STARTED';
    app.updated_at = stamp();
    this.appEvent('audit.app.start', app, { request: { state: 'STARTED' } });
  }
  /** `cf restart`: the app ends STARTED, and the CC records one restart event (no stop or start). */
  restartApp(appGuid: string) {
    const app = this.need(this.apps.get(appGuid), `app ${appGuid}`);
    app.state = 'STARTED';
    app.updated_at = stamp();
    this.appEvent('audit.app.restart', app, {});
  }
  rename(appGuid: string, name: string) {
    const app = this.need(this.apps.get(appGuid), `app ${appGuid}`);
    app.name = name;
    app.updated_at = stamp();
    this.appEvent('audit.app.update', app, { request: { name } });
  }
  /**
   * PATCH /v3/apps/:guid {"metadata": ...} as the CC applies it: keys are merged into what the app
   * has, a null value deletes its key, and the app's updated_at moves.
   */
  setAppMetadata(
    appGuid: string,
    m: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> },
  ) {
    const app = this.need(this.apps.get(appGuid), `app ${appGuid}`);
    const merge = (into: Record<string, string>, changes: Record<string, string | null> = {}) => {
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) delete into[key];
        else into[key] = value;
      }
      return into;
    };
    app.labels = merge({ ...app.labels }, m.labels);
    app.annotations = merge({ ...app.annotations }, m.annotations);
    app.updated_at = stamp();
    this.appEvent('audit.app.update', app, { request: { metadata: m } });
  }
  deleteApp(appGuid: string) {
    const app = this.apps.get(appGuid);
    if (app) this.appEvent('audit.app.delete-request', app, { request: { recursive: true } });
    this.apps.delete(appGuid);
    for (const p of [...this.processes.values()]) if (p.appGuid === appGuid) this.processes.delete(p.guid);
    for (const r of this.routes.values()) r.destinations = r.destinations.filter((d) => d.appGuid !== appGuid);
  }
  /** A rolling deploy: CC clones the web process, so two `web` processes exist for a while. */
  startRollingDeploy(appGuid: string, instances: number): Process {
    const app = this.need(this.apps.get(appGuid), `app ${appGuid}`);
    const proc = this.addProcess(appGuid, instances);
    const data = { droplet_guid: `droplet-${appGuid}`, strategy: 'rolling', request: {} };
    this.appEvent('audit.app.deployment.create', app, data);
    return proc;
  }
  /** The CC records no audit event when a deployment finishes (its deployment updater scales internally). */
  finishRollingDeploy(appGuid: string) {
    const webs = this.webProcesses(appGuid).sort((a, b) => a.created_at.localeCompare(b.created_at));
    for (const old of webs.slice(0, -1)) this.processes.delete(old.guid);
  }
  addServiceCredentialBinding(o: {
    guid?: string;
    type?: 'app' | 'key';
    appGuid?: string;
    instanceGuid: string;
    name?: string;
  }): CredentialBinding {
    const b = {
      guid: o.guid ?? randomUUID(),
      name: o.name ?? null,
      type: o.type ?? 'app',
      appGuid: o.appGuid,
      instanceGuid: o.instanceGuid,
      created_at: stamp(),
    };
    this.bindings.set(b.guid, b);
    return b;
  }

  private appEvent(type: string, app: App, data: Record<string, unknown>) {
    const target = { guid: app.guid, type: 'app', name: app.name };
    this.auditLog.record({ type, target, spaceGuid: app.spaceGuid, data });
  }
  private routeEvent(type: string, route: Route, data: Record<string, unknown>) {
    const target = { guid: route.guid, type: 'route', name: route.host };
    this.auditLog.record({ type, target, spaceGuid: route.spaceGuid, data });
  }
  private need<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`emulator: no such ${what}`);
    return value;
  }
}
