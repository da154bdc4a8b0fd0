import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { CloudControllerClient } from '../../shared/cc';
import { silentLogger } from '../../shared/logger';
import type { GetOptions, ListedObject, Store, StoredObject } from '../../shared/store/store';
import { Reconciler } from '../../updater/reconciler';
import { BrokerHarness, CF_PASS, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';

/*
 * Model-based test: random sequences of binds, unbinds, app changes in the CC emulator and
 * reconciler runs, checked after every bind, unbind and reconcile against a small, plain
 * model of the target-file rules written here (it never calls renderTargets, planReconcile or
 * the removal rules, so a bug in those shows up as a difference).
 *
 * The commands also make the situations the reconciler's removal rules exist for: files
 * without records (a crashed bind: young or past the grace; a few or most of active/), binding
 * records lost en masse, most bound apps vanishing at once, and an unbind landing while a run
 * is between its plan and its writes.
 *
 * A failure prints the world, the command list that ran and the fast-check seed/path.
 * Reproduce with: MODEL_SEED=<seed> MODEL_PATH=<path> MODEL_REPLAY_PATH=<replayPath> npx mocha --no-config
 * --timeout 120000 --exit dist-test/spec/updater/model.spec.js --grep '<the failing test>' (MODEL_RUNS=<n> changes
 * the number of runs; MODEL_COVERAGE=1 prints how often each removal rule's situation came up).
 */

// ---------------------------------------------------------------- the world

const ORG = 'acme';
const SPACES = ['prod', 'staging'] as const;
const PUBLIC_DOMAIN = 'apps.example.com';
const INTERNAL_DOMAIN = 'apps.internal';
const TCP_DOMAIN = 'tcp.example.com';

type RouteKind = 'public' | 'internal' | 'tcp';
interface RouteSpec {
  kind: RouteKind;
  apex: boolean;
  path: string;
}
interface AppSpec {
  name: string;
  space: 0 | 1;
  instances: number;
  started: boolean;
  routes: RouteSpec[];
}
interface BindParams {
  path?: string;
  scheme?: 'http' | 'https';
  labels?: Record<string, string>;
}
interface World {
  apps: AppSpec[];
  instanceLabels?: Record<string, string>;
  /** Bound through the broker before the commands run. */ binds: Array<[number, BindParams | undefined]>;
}

interface Group {
  targets: string[];
  labels: Record<string, string>;
}

// ---------------------------------------------------------------- the model

interface MApp {
  guid: string;
  name: string;
  space: string;
  state: 'STARTED' | 'STOPPED';
  processes: number[];
  deleted: boolean;
}
interface MRoute {
  guid: string;
  label: string;
  kind: RouteKind;
  host: string;
  path: string;
  apps: Set<string>;
}
interface MBinding {
  id: string;
  appGuid: string;
  params: BindParams;
}
interface Model {
  apps: MApp[];
  /** In creation order, which is the order CC lists them in. */
  routes: MRoute[];
  bindings: Map<string, MBinding>;
  /** What active/ must hold: binding id -> target groups. */
  active: Map<string, Group[]>;
  instanceLabels: Record<string, string>;
  /** Advanced when the clock jumps past the leftover grace: a file written in an earlier epoch is old. */
  epoch: number;
  /** The epoch in which each file in active/ was last written. */
  writtenAt: Map<string, number>;
}

interface Real {
  h: BrokerHarness;
  /** The reconciler's view of h.store, through which a test ages files and makes an unbind land mid-run. */
  store: HookedStore;
  p: ReturnType<typeof asPlatform>;
  reconciler: Reconciler;
  instanceId: string;
  tag: string;
  seq: { binding: number; route: number; leftover: number };
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
  if (b.params.path !== undefined)
    metricsPath = route.path + b.params.path; // relative to the route
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
  const bindings = (await store.list('bindings/'))
    .map((o) => o.key.slice('bindings/'.length).replace(/\.json$/, ''))
    .sort();
  return { active, bindings };
}

async function assertStoreMatches(m: Model, r: Real, after: string): Promise<void> {
  const got = await storeSnapshot(r.h.store);
  const want: Record<string, Group[]> = {};
  for (const [id, groups] of m.active) want[id] = groups;
  assert.deepStrictEqual(got.bindings, [...m.bindings.keys()].sort(), `binding records after ${after}`);
  assert.deepStrictEqual(got.active, want, `active/ after ${after}`);
}

/** How often a run met each situation the removal rules are for (printed with MODEL_COVERAGE=1). */
let seen: Record<string, number> = {};
const saw = (what: string) => {
  seen[what] = (seen[what] ?? 0) + 1;
};

/** An unbind landing mid-run: before the run lists bindings/ again, or just before it writes the victim's file. */
interface Race {
  victim: string;
  when: 'before-recheck' | 'during-write';
}

async function unbindThroughBroker(r: Real, id: string): Promise<void> {
  await r.p
    .delete(`/v2/service_instances/${r.instanceId}/service_bindings/${id}?${deleteQuery(r.h.catalog)}`)
    .expect(200);
}

function forgetBinding(m: Model, id: string): void {
  m.bindings.delete(id);
  m.active.delete(id);
  m.writtenAt.delete(id);
}

/**
 * The removal rules, written plainly: a file without a record is removed once it is older than
 * the grace, unless most files are such leftovers at once; nothing changes when most bound apps
 * vanish at once; an unbind landing mid-run never leaves its file behind.
 */
async function reconcileAndCheck(m: Model, r: Real, after: string, race?: Race): Promise<void> {
  const bindings = [...m.bindings.values()];
  const boundApps = new Set(bindings.map((b) => b.appGuid));
  const gone = [...boundApps].filter((g) => m.apps.find((a) => a.guid === g)!.deleted).length;
  const leftovers = [...m.active.keys()].filter((id) => !m.bindings.has(id));
  const oldLeftovers = leftovers.filter((id) => m.writtenAt.get(id) !== m.epoch);
  const next = new Map<string, Group[]>();
  const writes = new Set<string>();
  let removed = 0;
  let unchanged = 0;
  let inactive = 0;
  for (const b of bindings) {
    const want = modelTargets(m, b);
    const had = m.active.get(b.id);
    if (want) {
      next.set(b.id, want);
      if (isDeepStrictEqual(want, had)) unchanged++;
      else writes.add(b.id);
    } else {
      inactive++;
      if (had) removed++;
    }
  }
  for (const id of leftovers) if (!oldLeftovers.includes(id)) next.set(id, m.active.get(id)!);

  let unboundAt: 'recheck' | 'put' | undefined;
  if (race) {
    const victimKey = `active/${race.victim}.json`;
    if (race.when === 'before-recheck') {
      r.store.onBindingsList = async (n) => {
        if (n === 2) {
          unboundAt = 'recheck';
          await unbindThroughBroker(r, race.victim);
        }
      };
    } else {
      r.store.onPut = async (key) => {
        if (key === victimKey && !unboundAt) {
          unboundAt = 'put';
          await unbindThroughBroker(r, race.victim);
        }
      };
    }
  }
  const filesBefore = m.active.size;
  r.store.bindingsLists = 0;
  let summary;
  try {
    summary = await r.reconciler.run();
  } finally {
    r.store.onBindingsList = undefined;
    r.store.onPut = undefined;
  }
  if (race) {
    if (!unboundAt) await unbindThroughBroker(r, race.victim);
    forgetBinding(m, race.victim);
    next.delete(race.victim);
  }
  if (race)
    saw(
      `unbound ${unboundAt ?? 'after the run'}${race && writes.has(race.victim) ? ', its file planned to be written' : ''}`,
    );
  if (oldLeftovers.length > 0) saw('leftovers past the grace');
  if (leftovers.length > oldLeftovers.length) saw('young leftovers');
  if (gone >= 5 && gone > boundApps.size / 2) saw('most bound apps gone');
  if (oldLeftovers.length >= 5 && oldLeftovers.length > filesBefore / 2) saw('most files without records');
  else if (oldLeftovers.length >= 5) saw('5 or more leftovers, a minority');
  const where = `${after}${race ? ` (unbound ${unboundAt ?? 'after the run'})` : ''}`;
  if (gone >= 5 && gone > boundApps.size / 2) {
    // Most bound apps vanishing at once looks like lost access: the run refuses, changing nothing.
    assert.equal(summary.ok, false, `${where}: a run with ${gone} of ${boundApps.size} bound apps gone must refuse`);
    await assertStoreMatches(m, r, where);
    return;
  }
  if (oldLeftovers.length >= 5 && oldLeftovers.length > filesBefore / 2) {
    // Most files without records at once looks like a bad listing or lost records: no deletes.
    assert.equal(
      summary.ok,
      false,
      `${where}: a run with ${oldLeftovers.length} of ${filesBefore} files without records must refuse`,
    );
    await assertStoreMatches(m, r, where);
    return;
  }
  assert.ok(summary.ok, `${where}: reconcile failed: ${summary.error}`);
  let written = writes.size;
  removed += oldLeftovers.length;
  // The re-check drops the victim's write; a file put after its unbind is removed again.
  if (race && unboundAt === 'recheck' && writes.has(race.victim)) written--;
  if (race && unboundAt === 'put') removed++;
  for (const id of writes) m.writtenAt.set(id, m.epoch);
  for (const id of oldLeftovers) m.writtenAt.delete(id);
  m.active = next;
  await assertStoreMatches(m, r, where);
  // Nothing is written that did not change, and every change is written.
  assert.deepStrictEqual(
    {
      bindings: summary.bindings,
      apps: summary.apps,
      written: summary.written,
      removed: summary.removed,
      unchanged: summary.unchanged,
      inactive: summary.inactive,
    },
    { bindings: bindings.length, apps: boundApps.size, written, removed, unchanged, inactive },
    `${where}: run summary`,
  );
}

// ---------------------------------------------------------------- commands

type Cmd = fc.AsyncCommand<Model, Real>;
const live = (m: Model, i: number) => i < m.apps.length && !m.apps[i].deleted;

function addRoute(m: Model, r: Real, spec: RouteSpec, spaceGuid: string): MRoute {
  const k = ++r.seq.route;
  const host = spec.kind === 'tcp' || spec.apex ? '' : `r${k}`;
  const route = r.h.cc.addRoute({
    host,
    domainGuid: r.domainGuid[spec.kind],
    spaceGuid,
    path: spec.kind === 'tcp' ? undefined : spec.path,
    ...(spec.kind === 'tcp' ? { port: 1024 + k } : {}),
  });
  const path = spec.kind === 'tcp' ? '' : spec.path;
  const domain = spec.kind === 'public' ? PUBLIC_DOMAIN : spec.kind === 'internal' ? INTERNAL_DOMAIN : TCP_DOMAIN;
  const mr: MRoute = {
    guid: route.guid,
    label: `${spec.kind === 'tcp' ? `${domain}:${1024 + k}` : `${host ? `${host}.` : ''}${domain}${path}`}`,
    kind: spec.kind,
    host,
    path,
    apps: new Set(),
  };
  m.routes.push(mr);
  return mr;
}

const spaceGuidOf = (r: Real, m: Model, appIndex: number) => r.h.cc.apps.get(m.apps[appIndex].guid)!.spaceGuid;

class BindCmd implements Cmd {
  private done = '';
  constructor(
    readonly app: number,
    readonly params: BindParams | undefined,
  ) {}
  check(m: Model) {
    return this.app < m.apps.length;
  }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    const id = `${r.tag}-b${++r.seq.binding}`;
    this.done = ` -> ${id.slice(r.tag.length + 1)}`;
    const res = await r.p.put(
      `/v2/service_instances/${r.instanceId}/service_bindings/${id}`,
      bindBody(r.h.catalog, a.guid, this.params),
    );
    if (a.deleted) {
      assert.equal(res.status, 400, `bind of a deleted app: ${JSON.stringify(res.body)}`);
    } else {
      assert.equal(res.status, 201, `bind: ${JSON.stringify(res.body)}`);
      const b: MBinding = { id, appGuid: a.guid, params: this.params ?? {} };
      m.bindings.set(id, b);
      const want = modelTargets(m, b);
      if (want) {
        m.active.set(id, want);
        m.writtenAt.set(id, m.epoch);
      }
    }
    await assertStoreMatches(m, r, this.toString());
  }
  toString() {
    return `bind(app${this.app}${this.params ? ` ${JSON.stringify(this.params)}` : ''})${this.done}`;
  }
}

class UnbindCmd implements Cmd {
  private done = '';
  constructor(readonly pick: number) {}
  check(m: Model) {
    return m.bindings.size > 0;
  }
  async run(m: Model, r: Real) {
    const ids = [...m.bindings.keys()];
    const id = ids[this.pick % ids.length];
    this.done = ` -> ${id.slice(r.tag.length + 1)}`;
    await unbindThroughBroker(r, id);
    forgetBinding(m, id);
    await assertStoreMatches(m, r, this.toString());
  }
  toString() {
    return `unbind(#${this.pick})${this.done}`;
  }
}

class ReconcileCmd implements Cmd {
  check() {
    return true;
  }
  async run(m: Model, r: Real) {
    await reconcileAndCheck(m, r, 'reconcile');
  }
  toString() {
    return 'reconcile';
  }
}

/** A reconcile during which one binding is unbound through the broker. */
class RaceUnbindCmd implements Cmd {
  private done = '';
  constructor(
    readonly pick: number,
    readonly when: Race['when'],
  ) {}
  check(m: Model) {
    return m.bindings.size > 0;
  }
  async run(m: Model, r: Real) {
    // A binding whose file the run will write, the case both rules are for: when there is none,
    // an app with targets scales first so that its files change.
    const bound = [...m.bindings.values()];
    const wanted = (b: MBinding) => modelTargets(m, b);
    let toWrite = bound.filter((b) => {
      const want = wanted(b);
      return want !== undefined && !isDeepStrictEqual(want, m.active.get(b.id));
    });
    const withTargets = bound.filter((b) => wanted(b) !== undefined);
    if (toWrite.length === 0 && withTargets.length > 0) {
      const app = m.apps.find((a) => a.guid === withTargets[this.pick % withTargets.length].appGuid)!;
      const instances = (Math.max(...app.processes) % 4) + 1;
      r.h.cc.scale(app.guid, instances);
      app.processes = app.processes.map(() => instances);
      toWrite = bound.filter((b) => b.appGuid === app.guid);
    }
    const ids = (toWrite.length > 0 ? toWrite : bound).map((b) => b.id);
    const victim = ids[this.pick % ids.length];
    this.done = ` -> ${victim.slice(r.tag.length + 1)}`;
    await reconcileAndCheck(m, r, this.toString(), { victim, when: this.when });
  }
  toString() {
    return `reconcileWhileUnbinding(#${this.pick}, ${this.when})${this.done}`;
  }
}

/** Files a crashed bind leaves behind: in active/, with no record. */
class PlantLeftoversCmd implements Cmd {
  constructor(readonly count: number) {}
  check() {
    return true;
  }
  async run(m: Model, r: Real) {
    for (let i = 0; i < this.count; i++) {
      const id = `${r.tag}-l${++r.seq.leftover}`;
      const groups: Group[] = [{ targets: [`${id}.${PUBLIC_DOMAIN}`], labels: { job: 'crashed-bind' } }];
      await r.h.store.put(`active/${id}.json`, JSON.stringify(groups));
      m.active.set(id, groups);
      m.writtenAt.set(id, m.epoch);
    }
  }
  toString() {
    return `plantLeftovers(${this.count})`;
  }
}

/** Binding records deleted behind the broker's back (lost records; their files stay). */
class LoseRecordsCmd implements Cmd {
  private done = '';
  constructor(
    readonly pick: number,
    readonly count: number,
  ) {}
  check(m: Model) {
    return m.bindings.size > 0;
  }
  async run(m: Model, r: Real) {
    const ids = [...m.bindings.keys()];
    const lost = Array.from({ length: Math.min(this.count, ids.length) }, (_, i) => ids[(this.pick + i) % ids.length]);
    this.done = ` -> ${lost.map((id) => id.slice(r.tag.length + 1)).join(',')}`;
    for (const id of lost) {
      await r.h.store.delete(`bindings/${id}.json`);
      m.bindings.delete(id);
    }
  }
  toString() {
    return `loseRecords(#${this.pick}, ${this.count})${this.done}`;
  }
}

/** The clock jumps past the leftover grace: every file written so far is old. */
class TimePassesCmd implements Cmd {
  check() {
    return true;
  }
  async run(m: Model, r: Real) {
    await r.store.ageActiveFiles();
    m.epoch++;
  }
  toString() {
    return 'timePasses';
  }
}

class BindEveryAppCmd implements Cmd {
  check() {
    return true;
  }
  async run(m: Model, r: Real) {
    for (let i = 0; i < m.apps.length; i++) if (live(m, i)) await new BindCmd(i, undefined).run(m, r);
  }
  toString() {
    return 'bindEveryApp';
  }
}

class ScaleCmd implements Cmd {
  constructor(
    readonly app: number,
    readonly instances: number,
  ) {}
  check(m: Model) {
    return live(m, this.app);
  }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    r.h.cc.scale(a.guid, this.instances);
    a.processes = a.processes.map(() => this.instances);
  }
  toString() {
    return `scale(app${this.app}, ${this.instances})`;
  }
}

class StopCmd implements Cmd {
  constructor(readonly app: number) {}
  check(m: Model) {
    return live(m, this.app);
  }
  async run(m: Model, r: Real) {
    r.h.cc.stopApp(m.apps[this.app].guid);
    m.apps[this.app].state = 'STOPPED';
  }
  toString() {
    return `stop(app${this.app})`;
  }
}

class StartCmd implements Cmd {
  constructor(readonly app: number) {}
  check(m: Model) {
    return live(m, this.app);
  }
  async run(m: Model, r: Real) {
    r.h.cc.startApp(m.apps[this.app].guid);
    m.apps[this.app].state = 'STARTED';
  }
  toString() {
    return `start(app${this.app})`;
  }
}

class RenameCmd implements Cmd {
  private done = '';
  /** to: a new name, or undefined for "<current name>-venerable" (a blue-green deploy). */
  constructor(
    readonly app: number,
    readonly to: string | undefined,
  ) {}
  check(m: Model) {
    return live(m, this.app);
  }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    const name = this.to ?? `${a.name}-venerable`;
    this.done = ` -> "${name}"`;
    r.h.cc.rename(a.guid, name);
    a.name = name;
  }
  toString() {
    return `rename(app${this.app}, ${this.to === undefined ? '<name>-venerable' : JSON.stringify(this.to)})${this.done}`;
  }
}

class MapNewRouteCmd implements Cmd {
  private done = '';
  constructor(
    readonly app: number,
    readonly route: RouteSpec,
  ) {}
  check(m: Model) {
    return live(m, this.app);
  }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    const route = addRoute(m, r, this.route, spaceGuidOf(r, m, this.app));
    this.done = ` -> ${route.label}`;
    r.h.cc.mapRoute(route.guid, a.guid);
    route.apps.add(a.guid);
  }
  toString() {
    return `mapNewRoute(app${this.app}, ${this.route.kind}${this.route.apex ? ' apex' : ''} ${JSON.stringify(this.route.path)})${this.done}`;
  }
}

class MapExistingRouteCmd implements Cmd {
  private done = '';
  constructor(
    readonly app: number,
    readonly pick: number,
  ) {}
  check(m: Model) {
    return live(m, this.app) && m.routes.length > 0;
  }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    const route = m.routes[this.pick % m.routes.length];
    this.done = ` -> ${route.label}`;
    r.h.cc.mapRoute(route.guid, a.guid);
    route.apps.add(a.guid);
  }
  toString() {
    return `mapExistingRoute(app${this.app}, #${this.pick})${this.done}`;
  }
}

class UnmapRouteCmd implements Cmd {
  private done = '';
  constructor(
    readonly app: number,
    readonly pick: number,
  ) {}
  check(m: Model) {
    return live(m, this.app) && m.routes.some((rt) => rt.apps.has(m.apps[this.app].guid));
  }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    const mine = m.routes.filter((rt) => rt.apps.has(a.guid));
    const route = mine[this.pick % mine.length];
    this.done = ` -> ${route.label}`;
    r.h.cc.unmapRoute(route.guid, a.guid);
    route.apps.delete(a.guid);
  }
  toString() {
    return `unmapRoute(app${this.app}, #${this.pick})${this.done}`;
  }
}

class DeleteAppCmd implements Cmd {
  constructor(readonly app: number) {}
  check(m: Model) {
    return live(m, this.app);
  }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    r.h.cc.deleteApp(a.guid);
    a.deleted = true;
    a.processes = [];
    for (const rt of m.routes) rt.apps.delete(a.guid);
  }
  toString() {
    return `deleteApp(app${this.app})`;
  }
}

/** Many apps vanish at once (as when the broker's CF user loses its roles). */
class DeleteAppsFromCmd implements Cmd {
  constructor(readonly from: number) {}
  check(m: Model) {
    return m.apps.some((_, i) => i >= this.from && live(m, i));
  }
  async run(m: Model, r: Real) {
    for (let i = this.from; i < m.apps.length; i++) if (live(m, i)) await new DeleteAppCmd(i).run(m, r);
  }
  toString() {
    return `deleteAppsFrom(app${this.from})`;
  }
}

class StartRollingDeployCmd implements Cmd {
  constructor(
    readonly app: number,
    readonly instances: number,
  ) {}
  check(m: Model) {
    return live(m, this.app);
  }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    r.h.cc.startRollingDeploy(a.guid, this.instances);
    a.processes.push(this.instances);
  }
  toString() {
    return `startRollingDeploy(app${this.app}, ${this.instances})`;
  }
}

class FinishRollingDeployCmd implements Cmd {
  constructor(readonly app: number) {}
  check(m: Model) {
    return live(m, this.app) && m.apps[this.app].processes.length > 1;
  }
  async run(m: Model, r: Real) {
    const a = m.apps[this.app];
    r.h.cc.finishRollingDeploy(a.guid);
    a.processes = a.processes.slice(-1); // the newest web process stays
  }
  toString() {
    return `finishRollingDeploy(app${this.app})`;
  }
}

// ---------------------------------------------------------------- arbitraries

const MAX_APPS = 7;
/** The reconciler's leftover grace: far longer than a property run takes, so only an aged file is past it. */
const LEFTOVER_GRACE_MS = 3_600_000;
const appIndex = fc.nat({ max: MAX_APPS - 1 });
const names = fc.constantFrom(
  'api',
  'shop',
  'cart',
  'shop-v2',
  'venerable',
  'venerable-shop',
  'shop-venerable',
  'shop-venerable2',
);
const publicPath = fc.constantFrom(
  '',
  '',
  '/api',
  '/metrics',
  '/ops/metrics',
  '/appmetrics',
  '/metrics/v2',
  '/api/metrics-old',
);
const routeSpec: fc.Arbitrary<RouteSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant<RouteKind>('public'), apex: fc.boolean(), path: publicPath }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant<RouteKind>('internal'),
      apex: fc.constant(false),
      path: fc.constantFrom('', '/metrics'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant<RouteKind>('tcp'), apex: fc.constant(true), path: fc.constant('') }),
  },
);
const metricsRouteSpec: fc.Arbitrary<RouteSpec> = fc.record({
  kind: fc.constant<RouteKind>('public'),
  apex: fc.boolean(),
  path: fc.constantFrom('/metrics', '/ops/metrics', '/appmetrics'),
});
const labelsArb = fc.dictionary(fc.constantFrom('team', 'env', 'tier'), fc.constantFrom('a', 'b'), {
  minKeys: 1,
  maxKeys: 2,
});
const bindParams: fc.Arbitrary<BindParams | undefined> = fc.option(
  fc.record(
    {
      path: fc.constantFrom('/metrics', '/internal/metrics', '/prom'),
      scheme: fc.constantFrom<'http' | 'https'>('http', 'https'),
      labels: labelsArb,
    },
    { requiredKeys: [] },
  ),
  { nil: undefined, freq: 2 },
);
const world: fc.Arbitrary<World> = fc.record(
  {
    apps: fc.array(
      fc.record({
        name: names,
        space: fc.constantFrom<0 | 1>(0, 1),
        instances: fc.oneof(
          { weight: 1, arbitrary: fc.constant(0) },
          { weight: 5, arbitrary: fc.integer({ min: 1, max: 3 }) },
        ),
        started: fc.oneof({ weight: 1, arbitrary: fc.constant(false) }, { weight: 5, arbitrary: fc.constant(true) }),
        routes: fc.oneof(
          { weight: 1, arbitrary: fc.constant<RouteSpec[]>([]) },
          { weight: 5, arbitrary: fc.array(routeSpec, { minLength: 1, maxLength: 2 }) },
        ),
      }),
      { minLength: 3, maxLength: MAX_APPS },
    ),
    instanceLabels: fc.option(
      fc.dictionary(fc.constantFrom('team', 'env'), fc.constantFrom('x', 'y'), { minKeys: 1, maxKeys: 2 }),
      { nil: undefined },
    ),
    binds: fc.array(fc.tuple(fc.nat({ max: 2 }), bindParams), { maxLength: 4 }),
  },
  { requiredKeys: ['apps', 'binds'] },
);

/** The situations of the removal rules: crashed binds, lost records, time, mass deletes, unbinds mid-run. */
const removalRuleArbs: Array<fc.Arbitrary<Cmd>> = [
  ...Array.from({ length: 2 }, () =>
    fc
      .tuple(fc.nat({ max: 9 }), fc.constantFrom<Race['when']>('before-recheck', 'during-write'))
      .map(([k, w]) => new RaceUnbindCmd(k, w)),
  ),
  ...Array.from({ length: 2 }, () => fc.integer({ min: 1, max: 7 }).map((n) => new PlantLeftoversCmd(n))),
  fc.tuple(fc.nat({ max: 9 }), fc.integer({ min: 1, max: 6 })).map(([k, n]) => new LoseRecordsCmd(k, n)),
  ...Array.from({ length: 2 }, () => fc.constant(null).map(() => new TimePassesCmd())),
  ...Array.from({ length: 2 }, () => fc.constant(null).map(() => new BindEveryAppCmd())),
  ...Array.from({ length: 2 }, () => fc.nat({ max: 1 }).map((a) => new DeleteAppsFromCmd(a))),
];

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
  ...removalRuleArbs,
];

/** Fewer app changes, more of what the removal rules are for: their situations come up in most runs. */
const removalFocusArbs: Array<fc.Arbitrary<Cmd>> = [
  ...Array.from({ length: 2 }, () => fc.tuple(appIndex, bindParams).map(([a, p]) => new BindCmd(a, p))),
  fc.nat({ max: 9 }).map((k) => new UnbindCmd(k)),
  ...Array.from({ length: 2 }, () => fc.constant(null).map(() => new ReconcileCmd())),
  fc.tuple(appIndex, fc.nat({ max: 4 })).map(([a, n]) => new ScaleCmd(a, n)),
  fc.tuple(appIndex, fc.option(names, { nil: undefined })).map(([a, n]) => new RenameCmd(a, n)),
  appIndex.map((a) => new StopCmd(a)),
  appIndex.map((a) => new DeleteAppCmd(a)),
  ...removalRuleArbs,
  ...removalRuleArbs,
];

/**
 * The reconciler's store: h.store, with hooks that let an unbind land at a chosen point of a run,
 * and a clock that can jump: files aged by ageActiveFiles are listed as written two graces ago
 * (until the reconciler itself rewrites or removes them; other writers never reuse a key).
 */
class HookedStore implements Store {
  private readonly aged = new Map<string, string>();
  /** bindings/ listings since the last reset: a run lists it to read, to re-check, and after writing. */
  bindingsLists = 0;
  onBindingsList?: (n: number) => Promise<void>;
  onPut?: (key: string) => Promise<void>;
  constructor(private readonly inner: Store) {}
  get description() {
    return this.inner.description;
  }
  get(key: string, options?: GetOptions): Promise<StoredObject | undefined> {
    return this.inner.get(key, options);
  }
  getIfChanged(key: string, etag: string, options?: GetOptions) {
    return this.inner.getIfChanged(key, etag, options);
  }
  async put(key: string, body: string): Promise<string> {
    await this.onPut?.(key);
    this.aged.delete(key);
    return this.inner.put(key, body);
  }
  delete(key: string): Promise<void> {
    this.aged.delete(key);
    return this.inner.delete(key);
  }
  async list(prefix: string): Promise<ListedObject[]> {
    if (prefix === 'bindings/') await this.onBindingsList?.(++this.bindingsLists);
    return (await this.inner.list(prefix)).map((o) =>
      this.aged.get(o.key) === o.etag
        ? { ...o, lastModified: new Date(o.lastModified.getTime() - 2 * LEFTOVER_GRACE_MS) }
        : o,
    );
  }
  async ageActiveFiles(): Promise<void> {
    for (const o of await this.inner.list('active/')) this.aged.set(o.key, o.etag);
  }
  forgetAges(): void {
    this.aged.clear();
  }
}

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
  let store: HookedStore;
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
    store = new HookedStore(h.store);
    reconciler = new Reconciler({
      store,
      cc: new CloudControllerClient({
        apiUrl: h.cc.url,
        auth: { kind: 'password', username: CF_USER, password: CF_PASS },
        timeoutMs: 5000,
        retries: 0,
        maxRetryAfterMs: 2000,
      }),
      logger: silentLogger,
      leftoverGraceMs: LEFTOVER_GRACE_MS,
    });
  });
  after(() => h?.stop());

  async function setup(w: World): Promise<{ model: Model; real: Real }> {
    // Fresh ids per run, and a store holding nothing of earlier runs.
    const tag = `m${++runs}`;
    for (const a of previous?.apps ?? []) if (!a.deleted) h.cc.deleteApp(a.guid);
    for (const rt of previous?.routes ?? []) h.cc.deleteRoute(rt.guid);
    await wipe(h.store);
    store.forgetAges();
    const instanceId = `${tag}-inst`;
    await p
      .put(
        `/v2/service_instances/${instanceId}`,
        provisionBody(h.catalog, w.instanceLabels ? { labels: w.instanceLabels } : undefined),
      )
      .expect(201);
    const real: Real = {
      h,
      p,
      store,
      reconciler,
      instanceId,
      tag,
      seq: { binding: 0, route: 0, leftover: 0 },
      domainGuid,
    };
    const model: Model = {
      apps: [],
      routes: [],
      bindings: new Map(),
      active: new Map(),
      instanceLabels: w.instanceLabels ?? {},
      epoch: 0,
      writtenAt: new Map(),
    };
    for (const spec of w.apps) {
      const app = h.cc.addApp({
        name: spec.name,
        spaceGuid: spaceGuids[spec.space],
        instances: spec.instances,
        state: spec.started ? 'STARTED' : 'STOPPED',
      });
      model.apps.push({
        guid: app.guid,
        name: spec.name,
        space: SPACES[spec.space],
        state: spec.started ? 'STARTED' : 'STOPPED',
        processes: [spec.instances],
        deleted: false,
      });
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

  async function check(arbs: Array<fc.Arbitrary<Cmd>>): Promise<void> {
    const numRuns = Number(process.env.MODEL_RUNS ?? 40);
    const seed = process.env.MODEL_SEED !== undefined ? Number(process.env.MODEL_SEED) : undefined;
    const path = process.env.MODEL_PATH;
    const replayPath = process.env.MODEL_REPLAY_PATH; // the /*replayPath=...*/ of the counterexample
    await fc.assert(
      fc.asyncProperty(
        world,
        fc.commands(arbs, { maxCommands: 25, size: 'max', ...(replayPath ? { replayPath } : {}) }),
        async (w, cmds) => {
          let state: { model: Model; real: Real } | undefined;
          await fc.asyncModelRun(async () => (state = await setup(w)), cmds);
          await reconcileAndCheck(state!.model, state!.real, 'the final reconcile');
        },
      ),
      { numRuns, ...(seed !== undefined ? { seed } : {}), ...(path ? { path } : {}) },
    );
    if (process.env.MODEL_COVERAGE) console.log(seen);
    seen = {};
  }

  it('after every reconcile, active/ holds exactly the target files the model predicts', () => check(commandArbs));

  it('the removal rules: grace for young leftovers, re-check and clean-up around unbinds, no deletes en masse', () =>
    check(removalFocusArbs));
});
