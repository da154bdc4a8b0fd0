import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { CloudControllerClient } from '../../shared/cc';
import { silentLogger } from '../../shared/logger';
import type { Store } from '../../shared/store/store';
import { Reconciler } from '../../updater/reconciler';
import { BrokerHarness, CF_PASS, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';

/*
 * Model-based test: random sequences of binds, unbinds, app changes in the CC emulator and
 * reconciler runs, checked after every bind, unbind and reconcile against a small, plain
 * model of the target-file rules written here from DESIGN.md (it never calls renderTargets
 * or planReconcile, so a bug in those shows up as a difference).
 *
 * A failure prints the world, the command list that ran and the fast-check seed/path.
 * Reproduce with: MODEL_SEED=<seed> MODEL_PATH=<path> MODEL_REPLAY_PATH=<replayPath> npx mocha --no-config
 * --timeout 120000 --exit dist-test/spec/updater/model.spec.js (MODEL_RUNS=<n> changes the number of runs).
 */

// ---------------------------------------------------------------- the world

const ORG = 'acme';
const SPACES = ['prod', 'staging'] as const;
const PUBLIC_DOMAIN = 'apps.example.com';
const INTERNAL_DOMAIN = 'apps.internal';
const TCP_DOMAIN = 'tcp.example.com';

type RouteKind = 'public' | 'internal' | 'tcp';
interface RouteSpec { kind: RouteKind; apex: boolean; path: string }
interface AppSpec { name: string; space: 0 | 1; instances: number; started: boolean; routes: RouteSpec[] }
interface BindParams { path?: string; scheme?: 'http' | 'https'; labels?: Record<string, string> }
interface World { apps: AppSpec[]; instanceLabels?: Record<string, string>; /** Bound through the broker before the commands run. */ binds: Array<[number, BindParams | undefined]> }

interface Group { targets: string[]; labels: Record<string, string> }

// ---------------------------------------------------------------- the model

interface MApp { guid: string; name: string; space: string; state: 'STARTED' | 'STOPPED'; processes: number[]; deleted: boolean }
interface MRoute { guid: string; label: string; kind: RouteKind; host: string; path: string; apps: Set<string> }
interface MBinding { id: string; appGuid: string; params: BindParams }
interface Model {
  apps: MApp[];
  /** In creation order, which is the order CC lists them in. */
  routes: MRoute[];
  bindings: Map<string, MBinding>;
  /** What active/ must hold: binding id -> target groups. */
  active: Map<string, Group[]>;
  instanceLabels: Record<string, string>;
}

interface Real {
  h: BrokerHarness;
  p: ReturnType<typeof asPlatform>;
  reconciler: Reconciler;
  instanceId: string;
  tag: string;
  seq: { binding: number; route: number };
  domainGuid: Record<RouteKind, string>;
}

/**
 * The rules, written plainly: a started app with at least one web instance and a public http
 * route gets one group per instance on its chosen route; anything else gets no file.
 */
function modelTargets(m: Model, b: MBinding): Group[] | undefined {
  const app = m.apps.find((a) => a.guid === b.appGuid)!;
  if (app.deleted) return undefined;
  if (app.state !== 'STARTED') return undefined;
  // Rolling deploy: two web processes; the larger count is scraped.
  let instances = 0;
  for (const n of app.processes) if (n > instances) instances = n;
  if (instances === 0) return undefined;
  // Internal domains and tcp routes are never used; a path ending in "metrics" is preferred;
  // otherwise the first public route, in the order CC lists them.
  const usable = m.routes.filter((r) => r.kind === 'public' && r.apps.has(app.guid));
  if (usable.length === 0) return undefined;
  const route = usable.find((r) => r.path.endsWith('metrics')) ?? usable[0];
  const target = route.host === '' ? PUBLIC_DOMAIN : `${route.host}.${PUBLIC_DOMAIN}`;
  let metricsPath: string;
  if (b.params.path !== undefined) metricsPath = route.path + b.params.path; // relative to the route
  else if (route.path.endsWith('metrics')) metricsPath = route.path;
  else metricsPath = `${route.path}/metrics`;
  const job = app.name.endsWith('-venerable') ? app.name.slice(0, app.name.length - '-venerable'.length) : app.name;
  const groups: Group[] = [];
  for (let i = 0; i < instances; i++) {
    const labels: Record<string, string> = {
      job,
      org: ORG,
      space: app.space,
      instance: `${app.guid}:${i}`,
      __param_cf_app_guid: app.guid,
      __param_cf_app_instance_index: `${i}`,
      __param_cf_app_instance: `${app.guid}:${i}`,
      __metrics_path__: metricsPath,
    };
    if (b.params.scheme) labels.__param_cf_app_scheme = b.params.scheme;
    Object.assign(labels, m.instanceLabels, b.params.labels ?? {}); // binding labels win
    groups.push({ targets: [target], labels });
  }
  return groups;
}

// ---------------------------------------------------------------- checks against the store

async function storeSnapshot(store: Store): Promise<{ active: Record<string, Group[]>; bindings: string[] }> {
  const active: Record<string, Group[]> = {};
  for (const o of await store.list('active/')) {
    const got = await store.get(o.key);
    if (!got) continue;
    active[o.key.slice('active/'.length).replace(/\.json$/, '')] = JSON.parse(got.body) as Group[];
  }
  const bindings = (await store.list('bindings/')).map((o) => o.key.slice('bindings/'.length).replace(/\.json$/, '')).sort();
  return { active, bindings };
}

async function assertStoreMatches(m: Model, r: Real, after: string): Promise<void> {
  const got = await storeSnapshot(r.h.store);
  const want: Record<string, Group[]> = {};
  for (const [id, groups] of m.active) want[id] = groups;
  assert.deepStrictEqual(got.bindings, [...m.bindings.keys()].sort(), `binding records after ${after}`);
  assert.deepStrictEqual(got.active, want, `active/ after ${after}`);
}

async function reconcileAndCheck(m: Model, r: Real, after: string): Promise<void> {
  const bindings = [...m.bindings.values()];
  const boundApps = new Set(bindings.map((b) => b.appGuid));
  const gone = [...boundApps].filter((g) => m.apps.find((a) => a.guid === g)!.deleted).length;
  const summary = await r.reconciler.run();
  if (gone >= 5 && gone > boundApps.size / 2) {
    // Most bound apps vanishing at once looks like lost access: the run refuses, changing nothing.
    assert.equal(summary.ok, false, `${after}: a run with ${gone} of ${boundApps.size} bound apps gone must refuse`);
    await assertStoreMatches(m, r, after);
    return;
  }
  assert.ok(summary.ok, `${after}: reconcile failed: ${summary.error}`);
  const next = new Map<string, Group[]>();
  let written = 0;
  let removed = 0;
  let unchanged = 0;
  let inactive = 0;
  for (const b of bindings) {
    const want = modelTargets(m, b);
    const had = m.active.get(b.id);
    if (want) {
      next.set(b.id, want);
      if (isDeepStrictEqual(want, had)) unchanged++;
      else written++;
    } else {
      inactive++;
      if (had) removed++;
    }
  }
  m.active = next;
  await assertStoreMatches(m, r, after);
  // Nothing is written that did not change, and every change is written.
  assert.deepStrictEqual(
    { bindings: summary.bindings, apps: summary.apps, written: summary.written, removed: summary.removed, unchanged: summary.unchanged, inactive: summary.inactive },
    { bindings: bindings.length, apps: boundApps.size, written, removed, unchanged, inactive },
    `${after}: run summary`,
  );
}

// ---------------------------------------------------------------- commands

type Cmd = fc.AsyncCommand<Model, Real>;
const live = (m: Model, i: number) => i < m.apps.length && !m.apps[i].deleted;

function addRoute(m: Model, r: Real, spec: RouteSpec, spaceGuid: string): MRoute {
  const k = ++r.seq.route;
  const host = spec.kind === 'tcp' || spec.apex ? '' : `r${k}`;
  const route = r.h.cc.addRoute({ host, domainGuid: r.domainGuid[spec.kind], spaceGuid, path: spec.kind === 'tcp' ? undefined : spec.path, ...(spec.kind === 'tcp' ? { port: 1024 + k } : {}) });
  const path = spec.kind === 'tcp' ? '' : spec.path;
  const domain = spec.kind === 'public' ? PUBLIC_DOMAIN : spec.kind === 'internal' ? INTERNAL_DOMAIN : TCP_DOMAIN;
  const mr: MRoute = { guid: route.guid, label: `${spec.kind === 'tcp' ? `${domain}:${1024 + k}` : `${host ? `${host}.` : ''}${domain}${path}`}`, kind: spec.kind, host, path, apps: new Set() };
  m.routes.push(mr);
  return mr;
}

const spaceGuidOf = (r: Real, m: Model, appIndex: number) => r.h.cc.apps.get(m.apps[appIndex].guid)!.spaceGuid;

class BindCmd implements Cmd {
  private done = '';
  constructor(readonly app: number, readonly params: BindParams | undefined) {}
  check(m: Model) { return this.app < m.apps.length; }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    const id = `${r.tag}-b${++r.seq.binding}`;
    this.done = ` -> ${id.slice(r.tag.length + 1)}`;
    const res = await r.p.put(`/v2/service_instances/${r.instanceId}/service_bindings/${id}`, bindBody(r.h.catalog, a.guid, this.params));
    if (a.deleted) {
      assert.equal(res.status, 400, `bind of a deleted app: ${JSON.stringify(res.body)}`);
    } else {
      assert.equal(res.status, 201, `bind: ${JSON.stringify(res.body)}`);
      const b: MBinding = { id, appGuid: a.guid, params: this.params ?? {} };
      m.bindings.set(id, b);
      const want = modelTargets(m, b);
      if (want) m.active.set(id, want);
    }
    await assertStoreMatches(m, r, this.toString());
  }
  toString() { return `bind(app${this.app}${this.params ? ` ${JSON.stringify(this.params)}` : ''})${this.done}`; }
}

class UnbindCmd implements Cmd {
  private done = '';
  constructor(readonly pick: number) {}
  check(m: Model) { return m.bindings.size > 0; }
  async run(m: Model, r: Real) {
    const ids = [...m.bindings.keys()];
    const id = ids[this.pick % ids.length];
    this.done = ` -> ${id.slice(r.tag.length + 1)}`;
    await r.p.delete(`/v2/service_instances/${r.instanceId}/service_bindings/${id}?${deleteQuery(r.h.catalog)}`).expect(200);
    m.bindings.delete(id);
    m.active.delete(id);
    await assertStoreMatches(m, r, this.toString());
  }
  toString() { return `unbind(#${this.pick})${this.done}`; }
}

class ReconcileCmd implements Cmd {
  check() { return true; }
  async run(m: Model, r: Real) { await reconcileAndCheck(m, r, 'reconcile'); }
  toString() { return 'reconcile'; }
}

class ScaleCmd implements Cmd {
  constructor(readonly app: number, readonly instances: number) {}
  check(m: Model) { return live(m, this.app); }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    r.h.cc.scale(a.guid, this.instances);
    a.processes = a.processes.map(() => this.instances);
  }
  toString() { return `scale(app${this.app}, ${this.instances})`; }
}

class StopCmd implements Cmd {
  constructor(readonly app: number) {}
  check(m: Model) { return live(m, this.app); }
  async run(m: Model, r: Real) {
    r.h.cc.stopApp(m.apps[this.app].guid);
    m.apps[this.app].state = 'STOPPED';
  }
  toString() { return `stop(app${this.app})`; }
}

class StartCmd implements Cmd {
  constructor(readonly app: number) {}
  check(m: Model) { return live(m, this.app); }
  async run(m: Model, r: Real) {
    r.h.cc.startApp(m.apps[this.app].guid);
    m.apps[this.app].state = 'STARTED';
  }
  toString() { return `start(app${this.app})`; }
}

class RenameCmd implements Cmd {
  private done = '';
  /** to: a new name, or undefined for "<current name>-venerable" (a blue-green deploy). */
  constructor(readonly app: number, readonly to: string | undefined) {}
  check(m: Model) { return live(m, this.app); }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    const name = this.to ?? `${a.name}-venerable`;
    this.done = ` -> "${name}"`;
    r.h.cc.rename(a.guid, name);
    a.name = name;
  }
  toString() { return `rename(app${this.app}, ${this.to === undefined ? '<name>-venerable' : JSON.stringify(this.to)})${this.done}`; }
}

class MapNewRouteCmd implements Cmd {
  private done = '';
  constructor(readonly app: number, readonly route: RouteSpec) {}
  check(m: Model) { return live(m, this.app); }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    const route = addRoute(m, r, this.route, spaceGuidOf(r, m, this.app));
    this.done = ` -> ${route.label}`;
    r.h.cc.mapRoute(route.guid, a.guid);
    route.apps.add(a.guid);
  }
  toString() { return `mapNewRoute(app${this.app}, ${this.route.kind}${this.route.apex ? ' apex' : ''} ${JSON.stringify(this.route.path)})${this.done}`; }
}

class MapExistingRouteCmd implements Cmd {
  private done = '';
  constructor(readonly app: number, readonly pick: number) {}
  check(m: Model) { return live(m, this.app) && m.routes.length > 0; }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    const route = m.routes[this.pick % m.routes.length];
    this.done = ` -> ${route.label}`;
    r.h.cc.mapRoute(route.guid, a.guid);
    route.apps.add(a.guid);
  }
  toString() { return `mapExistingRoute(app${this.app}, #${this.pick})${this.done}`; }
}

class UnmapRouteCmd implements Cmd {
  private done = '';
  constructor(readonly app: number, readonly pick: number) {}
  check(m: Model) { return live(m, this.app) && m.routes.some((rt) => rt.apps.has(m.apps[this.app].guid)); }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    const mine = m.routes.filter((rt) => rt.apps.has(a.guid));
    const route = mine[this.pick % mine.length];
    this.done = ` -> ${route.label}`;
    r.h.cc.unmapRoute(route.guid, a.guid);
    route.apps.delete(a.guid);
  }
  toString() { return `unmapRoute(app${this.app}, #${this.pick})${this.done}`; }
}

class DeleteAppCmd implements Cmd {
  constructor(readonly app: number) {}
  check(m: Model) { return live(m, this.app); }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    r.h.cc.deleteApp(a.guid);
    a.deleted = true;
    a.processes = [];
    for (const rt of m.routes) rt.apps.delete(a.guid);
  }
  toString() { return `deleteApp(app${this.app})`; }
}

class StartRollingDeployCmd implements Cmd {
  constructor(readonly app: number, readonly instances: number) {}
  check(m: Model) { return live(m, this.app); }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    r.h.cc.startRollingDeploy(a.guid, this.instances);
    a.processes.push(this.instances);
  }
  toString() { return `startRollingDeploy(app${this.app}, ${this.instances})`; }
}

class FinishRollingDeployCmd implements Cmd {
  constructor(readonly app: number) {}
  check(m: Model) { return live(m, this.app) && m.apps[this.app].processes.length > 1; }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    r.h.cc.finishRollingDeploy(a.guid);
    a.processes = a.processes.slice(-1); // the newest web process stays
  }
  toString() { return `finishRollingDeploy(app${this.app})`; }
}

// ---------------------------------------------------------------- arbitraries

const MAX_APPS = 5;
const appIndex = fc.nat({ max: MAX_APPS - 1 });
const names = fc.constantFrom('api', 'shop', 'cart', 'shop-v2', 'venerable', 'venerable-shop', 'shop-venerable', 'shop-venerable2');
const publicPath = fc.constantFrom('', '', '/api', '/metrics', '/ops/metrics', '/appmetrics', '/metrics/v2', '/api/metrics-old');
const routeSpec: fc.Arbitrary<RouteSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant<RouteKind>('public'), apex: fc.boolean(), path: publicPath }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant<RouteKind>('internal'), apex: fc.constant(false), path: fc.constantFrom('', '/metrics') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant<RouteKind>('tcp'), apex: fc.constant(true), path: fc.constant('') }) },
);
const metricsRouteSpec: fc.Arbitrary<RouteSpec> = fc.record({ kind: fc.constant<RouteKind>('public'), apex: fc.boolean(), path: fc.constantFrom('/metrics', '/ops/metrics', '/appmetrics') });
const labelsArb = fc.dictionary(fc.constantFrom('team', 'env', 'tier'), fc.constantFrom('a', 'b'), { minKeys: 1, maxKeys: 2 });
const bindParams: fc.Arbitrary<BindParams | undefined> = fc.option(
  fc.record({ path: fc.constantFrom('/metrics', '/internal/metrics', '/prom'), scheme: fc.constantFrom<'http' | 'https'>('http', 'https'), labels: labelsArb }, { requiredKeys: [] }),
  { nil: undefined, freq: 2 },
);
const world: fc.Arbitrary<World> = fc.record({
  apps: fc.array(fc.record({
    name: names,
    space: fc.constantFrom<0 | 1>(0, 1),
    instances: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: 1, max: 3 }) }),
    started: fc.oneof({ weight: 1, arbitrary: fc.constant(false) }, { weight: 5, arbitrary: fc.constant(true) }),
    routes: fc.oneof({ weight: 1, arbitrary: fc.constant<RouteSpec[]>([]) }, { weight: 5, arbitrary: fc.array(routeSpec, { minLength: 1, maxLength: 2 }) }),
  }), { minLength: 3, maxLength: MAX_APPS }),
  instanceLabels: fc.option(fc.dictionary(fc.constantFrom('team', 'env'), fc.constantFrom('x', 'y'), { minKeys: 1, maxKeys: 2 }), { nil: undefined }),
  binds: fc.array(fc.tuple(fc.nat({ max: 2 }), bindParams), { maxLength: 4 }),
}, { requiredKeys: ['apps', 'binds'] });

const commandArbs: Array<fc.Arbitrary<Cmd>> = [
  ...Array.from({ length: 5 }, () => fc.tuple(appIndex, bindParams).map(([a, p]) => new BindCmd(a, p))),
  fc.nat({ max: 9 }).map((k) => new UnbindCmd(k)),
  ...Array.from({ length: 4 }, () => fc.constant(null).map(() => new ReconcileCmd())),
  fc.tuple(appIndex, fc.nat({ max: 4 })).map(([a, n]) => new ScaleCmd(a, n)),
  appIndex.map((a) => new StopCmd(a)),
  appIndex.map((a) => new StartCmd(a)),
  fc.tuple(appIndex, fc.option(names, { nil: undefined })).map(([a, n]) => new RenameCmd(a, n)),
  fc.tuple(appIndex, routeSpec).map(([a, s]) => new MapNewRouteCmd(a, s)),
  fc.tuple(appIndex, metricsRouteSpec).map(([a, s]) => new MapNewRouteCmd(a, s)),
  fc.tuple(appIndex, fc.nat({ max: 9 })).map(([a, k]) => new MapExistingRouteCmd(a, k)),
  fc.tuple(appIndex, fc.nat({ max: 9 })).map(([a, k]) => new UnmapRouteCmd(a, k)),
  fc.tuple(appIndex, fc.nat({ max: 9 })).map(([a, k]) => new UnmapRouteCmd(a, k)),
  appIndex.map((a) => new DeleteAppCmd(a)),
  fc.tuple(appIndex, fc.integer({ min: 1, max: 4 })).map(([a, n]) => new StartRollingDeployCmd(a, n)),
  appIndex.map((a) => new FinishRollingDeployCmd(a)),
];

// ---------------------------------------------------------------- the test

async function wipe(store: Store): Promise<void> {
  for (const prefix of ['active/', 'bindings/', 'instances/']) {
    for (const o of await store.list(prefix)) await store.delete(o.key);
  }
}

describe('updater: model-based sequences of binds, unbinds, app changes and reconciles', function () {
  this.timeout(600_000);
  let h: BrokerHarness;
  let p: ReturnType<typeof asPlatform>;
  let reconciler: Reconciler;
  let spaceGuids: string[];
  let domainGuid: Record<RouteKind, string>;
  let runs = 0;
  let previous: Model | undefined;

  before(async () => {
    h = await startBrokerHarness('fs');
    p = asPlatform(h.http);
    const org = h.cc.addOrg(ORG);
    spaceGuids = SPACES.map((s) => h.cc.addSpace(org.guid, s).guid);
    for (const s of spaceGuids) h.cc.grantSpaceRole(CF_USER, s);
    domainGuid = {
      public: h.cc.addDomain(PUBLIC_DOMAIN).guid,
      internal: h.cc.addDomain(INTERNAL_DOMAIN, { internal: true }).guid,
      tcp: h.cc.addDomain(TCP_DOMAIN, { protocols: ['tcp'] }).guid,
    };
    // One long-lived reconciler for every run, as the updater process has: its record cache
    // must follow the store as binds, unbinds and the wipes between runs change it.
    reconciler = new Reconciler({
      store: h.store,
      cc: new CloudControllerClient({ apiUrl: h.cc.url, auth: { kind: 'password', username: CF_USER, password: CF_PASS }, timeoutMs: 5000, retries: 0, maxRetryAfterMs: 2000 }),
      logger: silentLogger,
      leftoverGraceMs: 0,
    });
  });
  after(() => h?.stop());

  async function setup(w: World): Promise<{ model: Model; real: Real }> {
    // Fresh ids per run, and a store holding nothing of earlier runs.
    const tag = `m${++runs}`;
    for (const a of previous?.apps ?? []) if (!a.deleted) h.cc.deleteApp(a.guid);
    for (const rt of previous?.routes ?? []) h.cc.deleteRoute(rt.guid);
    await wipe(h.store);
    const instanceId = `${tag}-inst`;
    await p.put(`/v2/service_instances/${instanceId}`, provisionBody(h.catalog, w.instanceLabels ? { labels: w.instanceLabels } : undefined)).expect(201);
    const real: Real = { h, p, reconciler, instanceId, tag, seq: { binding: 0, route: 0 }, domainGuid };
    const model: Model = { apps: [], routes: [], bindings: new Map(), active: new Map(), instanceLabels: w.instanceLabels ?? {} };
    for (const spec of w.apps) {
      const app = h.cc.addApp({ name: spec.name, spaceGuid: spaceGuids[spec.space], instances: spec.instances, state: spec.started ? 'STARTED' : 'STOPPED' });
      model.apps.push({ guid: app.guid, name: spec.name, space: SPACES[spec.space], state: spec.started ? 'STARTED' : 'STOPPED', processes: [spec.instances], deleted: false });
      for (const rs of spec.routes) {
        const route = addRoute(model, real, rs, spaceGuids[spec.space]);
        h.cc.mapRoute(route.guid, app.guid);
        route.apps.add(app.guid);
      }
    }
    previous = model;
    for (const [app, params] of w.binds) await new BindCmd(app, params).run(model, real);
    return { model, real };
  }

  it('after every reconcile, active/ holds exactly the target files the model predicts', async () => {
    const numRuns = Number(process.env.MODEL_RUNS ?? 40);
    const seed = process.env.MODEL_SEED !== undefined ? Number(process.env.MODEL_SEED) : undefined;
    const path = process.env.MODEL_PATH;
    const replayPath = process.env.MODEL_REPLAY_PATH; // the /*replayPath=...*/ of the counterexample
    await fc.assert(
      fc.asyncProperty(world, fc.commands(commandArbs, { maxCommands: 25, size: 'max', ...(replayPath ? { replayPath } : {}) }), async (w, cmds) => {
        let state: { model: Model; real: Real } | undefined;
        await fc.asyncModelRun(async () => (state = await setup(w)), cmds);
        await reconcileAndCheck(state!.model, state!.real, 'the final reconcile');
      }),
      { numRuns, ...(seed !== undefined ? { seed } : {}), ...(path ? { path } : {}) },
    );
  });
});
