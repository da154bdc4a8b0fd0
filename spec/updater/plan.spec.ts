import assert from 'node:assert/strict';
import type { BindingRecord, InstanceRecord } from '../../shared/records/records';
import type { AppSnapshot } from '../../shared/targets/types';
import { md5Etag } from '../../shared/store/store';
import { AppObservation, appsActedOn, Plan, planReconcile, PlanInput } from '../../updater/plan';
import { usableRecords } from '../../updater/read';
import { changesToApply, currentFiles, unboundDuringRun, vanishRefusal } from '../../updater/removals';

const at = '2026-01-01T00:00:00Z';
const binding = (id: string, app: string, instance = 'i1'): BindingRecord => ({
  binding_id: id,
  instance_id: instance,
  service_id: 's',
  plan_id: 'p',
  app_guid: app,
  parameters: {},
  created_at: at,
  status_at_bind: { state: 'inactive', reason: 'app-stopped', detail: '' },
});
const instance: InstanceRecord = {
  instance_id: 'i1',
  service_id: 's',
  plan_id: 'p',
  organization_guid: 'o',
  space_guid: 's',
  parameters: { labels: { team: 't' } },
  created_at: at,
  updated_at: at,
};
const snapshot = (guid: string, over: Partial<AppSnapshot> = {}): AppObservation => ({
  kind: 'present',
  snapshot: {
    guid,
    name: guid,
    state: 'STARTED',
    orgName: 'o',
    spaceName: 's',
    instances: 1,
    routes: [{ host: guid, domain: 'd.com', path: '', protocol: 'http', internal: false }],
    ...over,
  },
});
const input = (over: Partial<PlanInput>): PlanInput => ({
  bindings: [],
  instances: new Map([['i1', instance]]),
  apps: new Map(),
  active: new Map(),
  ...over,
});

describe('reconcile plan (pure)', () => {
  it('writes a missing file, with instance labels applied', () => {
    const plan = planReconcile(input({ bindings: [binding('b1', 'a1')], apps: new Map([['a1', snapshot('a1')]]) }));
    assert.equal(plan.writes.length, 1);
    assert.equal(JSON.parse(plan.writes[0].body)[0].labels.team, 't');
    assert.deepEqual(plan.removals, []);
  });

  it('leaves a file whose ETag already matches, and rewrites one that differs', () => {
    const first = planReconcile(input({ bindings: [binding('b1', 'a1')], apps: new Map([['a1', snapshot('a1')]]) }));
    const same = planReconcile(
      input({
        bindings: [binding('b1', 'a1')],
        apps: new Map([['a1', snapshot('a1')]]),
        active: new Map([['b1', md5Etag(first.writes[0].body)]]),
      }),
    );
    assert.deepEqual([same.writes.length, same.unchanged], [0, 1]);
    const scaled = planReconcile(
      input({
        bindings: [binding('b1', 'a1')],
        apps: new Map([['a1', snapshot('a1', { instances: 2 })]]),
        active: new Map([['b1', md5Etag(first.writes[0].body)]]),
      }),
    );
    assert.equal(scaled.writes.length, 1);
  });

  it('removes files of gone and stopped apps, of deprovisioned instances, and leftovers; says why', () => {
    const plan = planReconcile(
      input({
        bindings: [binding('gone', 'a1'), binding('stopped', 'a2'), binding('orphan', 'a3', 'i-deleted')],
        apps: new Map<string, AppObservation>([
          ['a1', { kind: 'gone' }],
          ['a2', snapshot('a2', { state: 'STOPPED' })],
          ['a3', snapshot('a3')],
        ]),
        active: new Map([
          ['gone', '"x"'],
          ['stopped', '"x"'],
          ['orphan', '"x"'],
          ['leftover', '"x"'],
        ]),
      }),
    );
    assert.deepEqual(plan.removals.map((r) => `${r.bindingId}:${r.reason}`).sort(), [
      'gone:app-gone',
      'leftover:no-binding-record',
      'orphan:instance-gone',
      'stopped:app-stopped',
    ]);
    assert.deepEqual(plan.writes, []);
  });

  it('does not plan a removal for an inactive binding that has no file', () => {
    const plan = planReconcile(
      input({ bindings: [binding('b1', 'a1')], apps: new Map([['a1', snapshot('a1', { instances: 0 })]]) }),
    );
    assert.deepEqual(plan.removals, []);
    assert.deepEqual(plan.inactive, [{ bindingId: 'b1', reason: 'no-instances' }]);
  });

  it('refuses to plan when an app was not observed (incomplete information)', () => {
    assert.throws(
      () => planReconcile(input({ bindings: [binding('b1', 'a1')] })),
      /refusing to plan on incomplete information/,
    );
  });

  it('gives two bindings of one app (strategy multiple) a file each', () => {
    const plan = planReconcile(
      input({ bindings: [binding('b1', 'a1'), binding('b2', 'a1')], apps: new Map([['a1', snapshot('a1')]]) }),
    );
    assert.deepEqual(
      plan.writes.map((w) => w.bindingId),
      ['b1', 'b2'],
    );
  });

  it('leaves the file of an app observed as implausible exactly as it is, and reports it', () => {
    const plan = planReconcile(
      input({
        bindings: [binding('b1', 'a1'), binding('b2', 'a2')],
        apps: new Map<string, AppObservation>([
          ['a1', { kind: 'invalid', reason: 'reports 50000000 web instances' }],
          ['a2', snapshot('a2')],
        ]),
        active: new Map([['b1', '"x"']]),
      }),
    );
    assert.deepEqual(plan.refused, [
      { bindingId: 'b1', appGuid: 'a1', cause: 'implausible-app', reason: 'reports 50000000 web instances' },
    ]);
    assert.deepEqual(plan.removals, [], 'not a leftover either');
    assert.deepEqual(
      plan.writes.map((w) => w.bindingId),
      ['b2'],
    );
  });

  it('names the apps whose CC observation it acts on: writes and CC-caused removals, not unchanged files or store-caused removals', () => {
    const bindings = [
      binding('write', 'a1'),
      binding('gone', 'a2'),
      binding('same', 'a3'),
      binding('orphan', 'a4', 'i-deleted'),
      binding('zero', 'a5'),
    ];
    const apps = new Map<string, AppObservation>([
      ['a1', snapshot('a1')],
      ['a2', { kind: 'gone' }],
      ['a3', snapshot('a3')],
      ['a4', snapshot('a4')],
      ['a5', snapshot('a5', { instances: 0 })],
    ]);
    const sameBody = planReconcile(input({ bindings: [binding('same', 'a3')], apps })).writes[0].body;
    const plan = planReconcile(
      input({
        bindings,
        apps,
        active: new Map([
          ['gone', '"x"'],
          ['same', md5Etag(sameBody)],
          ['orphan', '"x"'],
          ['zero', '"x"'],
          ['leftover', '"x"'],
        ]),
      }),
    );
    assert.deepEqual(appsActedOn(plan, bindings).sort(), ['a1', 'a2', 'a5']);
  });
});

describe('reconcile removal rules (pure)', () => {
  const listed = (id: string, ageMs: number, now: number) => ({
    key: `active/${id}.json`,
    etag: `"${id}"`,
    size: 2,
    lastModified: new Date(now - ageMs),
  });
  const now = Date.parse(at);
  const leftoverPlan = (ids: string[], writes: string[] = []): Plan => ({
    ignoredAnnotations: [],
    writes: writes.map((bindingId) => ({
      bindingId,
      body: '[]',
      status: { state: 'active' as const, targets: 1, route: 'r', metricsPath: '/metrics' },
    })),
    removals: ids.map((bindingId) => ({ bindingId, reason: 'no-binding-record' as const })),
    unchanged: 0,
    inactive: [],
    refused: [],
  });

  it('protects the files of a corrupt binding record and of bindings whose instance record is corrupt, and renders neither', () => {
    const records = usableRecords(
      new Map<string, BindingRecord | undefined>([
        ['bindings/ok.json', binding('ok', 'a1')],
        ['bindings/broken.json', undefined],
        ['bindings/orphaned.json', binding('orphaned', 'a2', 'i-broken')],
      ]),
      new Map<string, InstanceRecord | undefined>([
        ['instances/i1.json', instance],
        ['instances/i-broken.json', undefined],
      ]),
    );
    assert.deepEqual(
      records.bindings.map((b) => b.binding_id),
      ['ok'],
    );
    assert.deepEqual([...records.protectedIds].sort(), ['broken', 'orphaned']);
    assert.deepEqual([...records.instances.keys()], ['i1']);
    assert.equal(records.corruptRecords, 2);
  });

  it('counts a file younger than the grace as young, and leaves out files of bindings with corrupt records', () => {
    const files = currentFiles(
      [listed('young', 1_000, now), listed('old', 200_000, now), listed('corrupt', 200_000, now)],
      new Set(['corrupt']),
      now,
      120_000,
    );
    assert.deepEqual([...files.active.keys()], ['young', 'old']);
    assert.deepEqual([...files.young], ['young']);
  });

  it('keeps a young leftover and one whose record appeared since; removes an old one', () => {
    const files = currentFiles(
      [listed('young', 1_000, now), listed('old', 200_000, now), listed('late-record', 200_000, now)],
      new Set(),
      now,
      120_000,
    );
    const changes = changesToApply(leftoverPlan(['young', 'old', 'late-record']), files, new Set(['late-record']), 0.5);
    assert.deepEqual(changes.refusal === undefined && changes.removals.map((r) => r.bindingId), ['old']);
  });

  it('drops the write of a binding unbound before the re-check, and removes a file put after its unbind', () => {
    const files = currentFiles([], new Set(), now, 120_000);
    const changes = changesToApply(leftoverPlan([], ['kept', 'unbound']), files, new Set(['kept']), 0.5);
    assert.deepEqual(changes.refusal === undefined && changes.writes.map((w) => w.bindingId), ['kept']);
    assert.deepEqual(unboundDuringRun(leftoverPlan([], ['kept', 'late-unbind']).writes, new Set(['kept'])), [
      { bindingId: 'late-unbind', reason: 'unbound-during-run' },
    ]);
  });

  it('refuses when most files have no record at once (5 or more), not when a few do', () => {
    const ids = ['l1', 'l2', 'l3', 'l4', 'l5'];
    const old = ids.map((id) => listed(id, 200_000, now));
    const most = changesToApply(
      leftoverPlan(ids),
      currentFiles([...old, listed('b1', 0, now)], new Set(), now, 120_000),
      new Set(['b1']),
      0.5,
    );
    assert.match(most.refusal ?? '', /5 of 6 target files have no binding record at once/);
    const bound = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'].map((id) => listed(id, 0, now));
    const minority = changesToApply(
      leftoverPlan(ids),
      currentFiles([...old, ...bound], new Set(), now, 120_000),
      new Set(),
      0.5,
    );
    assert.equal(minority.refusal, undefined);
    const four = changesToApply(
      leftoverPlan(ids.slice(0, 4)),
      currentFiles(old.slice(0, 4), new Set(), now, 120_000),
      new Set(),
      0.5,
    );
    assert.equal(four.refusal, undefined, 'four crashed binds are taken at their word');
  });

  it('refuses when most bound apps are gone at once (5 or more), not when a few are', () => {
    const apps = (gone: number, present: number) =>
      new Map<string, AppObservation>([
        ...Array.from({ length: gone }, (_, i): [string, AppObservation] => [`g${i}`, { kind: 'gone' }]),
        ...Array.from({ length: present }, (_, i): [string, AppObservation] => [`p${i}`, snapshot(`p${i}`)]),
      ]);
    assert.match(vanishRefusal(apps(5, 4), 9, 0.5) ?? '', /5 of 9 bound apps are missing/);
    assert.equal(vanishRefusal(apps(5, 5), 10, 0.5), undefined);
    assert.equal(vanishRefusal(apps(4, 0), 4, 0.5), undefined);
  });
});
