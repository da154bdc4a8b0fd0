import assert from 'node:assert/strict';
import type { BindingRecord, InstanceRecord } from '../../shared/records/records';
import type { AppSnapshot } from '../../shared/targets/types';
import { md5Etag } from '../../shared/store/store';
import { AppObservation, appsActedOn, planReconcile, PlanInput } from '../../updater/plan';

const at = '2026-01-01T00:00:00Z';
const binding = (id: string, app: string, instance = 'i1'): BindingRecord => ({
  binding_id: id, instance_id: instance, service_id: 's', plan_id: 'p', app_guid: app, parameters: {}, created_at: at,
  status_at_bind: { state: 'inactive', reason: 'app-stopped', detail: '' },
});
const instance: InstanceRecord = { instance_id: 'i1', service_id: 's', plan_id: 'p', organization_guid: 'o', space_guid: 's', parameters: { labels: { team: 't' } }, created_at: at, updated_at: at };
const snapshot = (guid: string, over: Partial<AppSnapshot> = {}): AppObservation => ({
  kind: 'present',
  snapshot: { guid, name: guid, state: 'STARTED', orgName: 'o', spaceName: 's', instances: 1, routes: [{ host: guid, domain: 'd.com', path: '', protocol: 'http', internal: false }], ...over },
});
const input = (over: Partial<PlanInput>): PlanInput => ({ bindings: [], instances: new Map([['i1', instance]]), apps: new Map(), active: new Map(), ...over });

describe('reconcile plan (pure)', () => {
  it('writes a missing file, with instance labels applied', () => {
    const plan = planReconcile(input({ bindings: [binding('b1', 'a1')], apps: new Map([['a1', snapshot('a1')]]) }));
    assert.equal(plan.writes.length, 1);
    assert.equal(JSON.parse(plan.writes[0].body)[0].labels.team, 't');
    assert.deepEqual(plan.removals, []);
  });

  it('leaves a file whose ETag already matches, and rewrites one that differs', () => {
    const first = planReconcile(input({ bindings: [binding('b1', 'a1')], apps: new Map([['a1', snapshot('a1')]]) }));
    const same = planReconcile(input({ bindings: [binding('b1', 'a1')], apps: new Map([['a1', snapshot('a1')]]), active: new Map([['b1', md5Etag(first.writes[0].body)]]) }));
    assert.deepEqual([same.writes.length, same.unchanged], [0, 1]);
    const scaled = planReconcile(input({ bindings: [binding('b1', 'a1')], apps: new Map([['a1', snapshot('a1', { instances: 2 })]]), active: new Map([['b1', md5Etag(first.writes[0].body)]]) }));
    assert.equal(scaled.writes.length, 1);
  });

  it('removes files of gone and stopped apps, of deprovisioned instances, and leftovers; says why', () => {
    const plan = planReconcile(input({
      bindings: [binding('gone', 'a1'), binding('stopped', 'a2'), binding('orphan', 'a3', 'i-deleted')],
      apps: new Map<string, AppObservation>([['a1', { kind: 'gone' }], ['a2', snapshot('a2', { state: 'STOPPED' })], ['a3', snapshot('a3')]]),
      active: new Map([['gone', '"x"'], ['stopped', '"x"'], ['orphan', '"x"'], ['leftover', '"x"']]),
    }));
    assert.deepEqual(plan.removals.map((r) => `${r.bindingId}:${r.reason}`).sort(), ['gone:app-gone', 'leftover:no-binding-record', 'orphan:instance-gone', 'stopped:app-stopped']);
    assert.deepEqual(plan.writes, []);
  });

  it('does not plan a removal for an inactive binding that has no file', () => {
    const plan = planReconcile(input({ bindings: [binding('b1', 'a1')], apps: new Map([['a1', snapshot('a1', { instances: 0 })]]) }));
    assert.deepEqual(plan.removals, []);
    assert.deepEqual(plan.inactive, [{ bindingId: 'b1', reason: 'no-instances' }]);
  });

  it('refuses to plan when an app was not observed (incomplete information)', () => {
    assert.throws(() => planReconcile(input({ bindings: [binding('b1', 'a1')] })), /refusing to plan on incomplete information/);
  });

  it('gives two bindings of one app (strategy multiple) a file each', () => {
    const plan = planReconcile(input({ bindings: [binding('b1', 'a1'), binding('b2', 'a1')], apps: new Map([['a1', snapshot('a1')]]) }));
    assert.deepEqual(plan.writes.map((w) => w.bindingId), ['b1', 'b2']);
  });

  it('leaves the file of an app observed as implausible exactly as it is, and reports it', () => {
    const plan = planReconcile(input({
      bindings: [binding('b1', 'a1'), binding('b2', 'a2')],
      apps: new Map<string, AppObservation>([['a1', { kind: 'invalid', reason: 'reports 50000000 web instances' }], ['a2', snapshot('a2')]]),
      active: new Map([['b1', '"x"']]),
    }));
    assert.deepEqual(plan.refused, [{ bindingId: 'b1', appGuid: 'a1', cause: 'implausible-app', reason: 'reports 50000000 web instances' }]);
    assert.deepEqual(plan.removals, [], 'not a leftover either');
    assert.deepEqual(plan.writes.map((w) => w.bindingId), ['b2']);
  });

  it('names the apps whose CC observation it acts on: writes and CC-caused removals, not unchanged files or store-caused removals', () => {
    const bindings = [binding('write', 'a1'), binding('gone', 'a2'), binding('same', 'a3'), binding('orphan', 'a4', 'i-deleted'), binding('zero', 'a5')];
    const apps = new Map<string, AppObservation>([['a1', snapshot('a1')], ['a2', { kind: 'gone' }], ['a3', snapshot('a3')], ['a4', snapshot('a4')], ['a5', snapshot('a5', { instances: 0 })]]);
    const sameBody = planReconcile(input({ bindings: [binding('same', 'a3')], apps })).writes[0].body;
    const plan = planReconcile(input({ bindings, apps, active: new Map([['gone', '"x"'], ['same', md5Etag(sameBody)], ['orphan', '"x"'], ['zero', '"x"'], ['leftover', '"x"']]) }));
    assert.deepEqual(appsActedOn(plan, bindings).sort(), ['a1', 'a2', 'a5']);
  });
});
