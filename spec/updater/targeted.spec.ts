import assert from 'node:assert/strict';
import { silentLogger } from '../../shared/logger';
import { AppMetrics } from '../../shared/metrics';
import { Reconciler } from '../../updater/reconciler';
import type { BrokerHarness } from '../support/broker-harness';
import { BoundPlatform, startBoundPlatform } from '../support/bound-apps';

describe('updater: targeted runs (the apps audit events name), over HTTP', function () {
  this.timeout(30_000);
  let bp: BoundPlatform;
  let h: BrokerHarness;

  const reconciler = (metrics?: AppMetrics) =>
    new Reconciler({ store: h.store, cc: bp.ccClient(), logger: silentLogger, leftoverGraceMs: 0, metrics });
  const boundApp = (instances = 2) => bp.boundApp({ instances });
  const groups = async (bindingId: string) => (await bp.targets(bindingId))?.length;
  const ccPaths = (since: number) =>
    h.cc
      .ccRequests()
      .slice(since)
      .map((r) => `${r.path}${r.query}`);

  before(async () => {
    bp = await startBoundPlatform('t');
    h = bp.h;
  });
  after(() => h?.stop());

  it("changes only the named app's file, asking the CC about that app alone (3 requests)", async () => {
    const a = await boundApp(2);
    const b = await boundApp(2);
    h.cc.scale(a.app.guid, 5);
    h.cc.scale(b.app.guid, 3); // not named: stays as it is until a full run
    const r = reconciler();
    await r.run();
    h.cc.scale(a.app.guid, 1);
    h.cc.scale(b.app.guid, 4);
    const before = h.cc.ccRequests().length;
    const s = await r.runFor(new Map([[a.app.guid, false]]));
    assert.ok(s.ok, s.error);
    assert.equal(s.scope, 'apps');
    assert.equal(await groups(a.bindingId), 1);
    assert.equal(await groups(b.bindingId), 3, 'the app no event named keeps its file');
    const asked = ccPaths(before);
    assert.equal(asked.length, 3, asked.join('\n'));
    for (const q of asked) {
      assert.ok(q.includes(a.app.guid), `${q} names the app`);
      assert.ok(!q.includes(b.app.guid), `${q} does not ask about the other app`);
    }
  });

  it('an app the CC no longer shows loses its file only when an event said it was deleted', async () => {
    const { app, bindingId } = await boundApp();
    const r = reconciler();
    await r.run();
    h.cc.deleteApp(app.guid);
    const held = await r.runFor(new Map([[app.guid, false]]));
    assert.ok(held.ok, held.error);
    assert.equal(await groups(bindingId), 2, 'missing without a delete event: left for the full run');
    const deleted = await r.runFor(new Map([[app.guid, true]]));
    assert.ok(deleted.ok, deleted.error);
    assert.equal(await groups(bindingId), undefined);
  });

  it('a deleted app the CC still shows is reported, so the follower looks again', async () => {
    const { app } = await boundApp();
    const s = await reconciler().runFor(new Map([[app.guid, true]]));
    assert.deepEqual(s.deletedButPresent, [app.guid]);
  });

  it('never removes leftovers or touches files of other bindings, and leaves the full-run gauges alone', async () => {
    const { app } = await boundApp();
    await h.store.put('active/orphan-file.json', '[]');
    const metrics = new AppMetrics();
    const r = reconciler(metrics);
    const s = await r.runFor(new Map([[app.guid, false]]));
    assert.ok(s.ok, s.error);
    assert.ok(await h.store.get('active/orphan-file.json'), 'a leftover is the full run’s business');
    const text = await metrics.registry.metrics();
    assert.match(text, /cf_app_discovery_targeted_reconcile_runs_total\{outcome="success"\} 1/);
    assert.doesNotMatch(text, /cf_app_discovery_reconcile_runs_total\{/);
    await h.store.delete('active/orphan-file.json');
  });

  it('knows which bound apps a route carries, from the runs it made', async () => {
    const a = await boundApp();
    const r = reconciler();
    await r.run();
    assert.deepEqual([...r.routes.appsOn(a.route.guid)], [a.app.guid]);
    h.cc.unmapRoute(a.route.guid, a.app.guid);
    await r.runFor(new Map([[a.app.guid, false]]));
    assert.deepEqual([...r.routes.appsOn(a.route.guid)], []);
  });
});
