import assert from 'node:assert/strict';
import { CloudControllerClient } from '../../shared/cc';
import { silentLogger } from '../../shared/logger';
import { AppMetrics } from '../../shared/metrics';
import type { Store } from '../../shared/store/store';
import { Reconciler, ReconcilerOptions } from '../../updater/reconciler';
import { BrokerHarness, CF_PASS, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, provisionBody } from '../support/osb-client';
import { UPDATER_CC_TUNING } from '../../updater/build';

/** A store whose writes each take `delayMs`, so a deadline can pass in the middle of them. */
function slowWrites(store: Store, delayMs: number): Store {
  const wait = () => new Promise((r) => setTimeout(r, delayMs));
  return Object.assign(Object.create(store) as Store, {
    put: async (key: string, body: string) => {
      await wait();
      return store.put(key, body);
    },
    delete: async (key: string) => {
      await wait();
      return store.delete(key);
    },
  });
}

describe('updater: a run that gives up, and apps the CC describes implausibly', function () {
  this.timeout(30_000);
  let h: BrokerHarness;
  let p: ReturnType<typeof asPlatform>;
  let space: { guid: string };
  let domain: { guid: string };
  let n = 0;
  const instanceId = 'updater-deadline-instance';

  const reconciler = (over: Partial<ReconcilerOptions> = {}) =>
    new Reconciler({
      store: h.store,
      // The production client's patience (updater/build.ts): only the run's own deadline is short.
      cc: new CloudControllerClient({
        apiUrl: h.cc.url,
        auth: { kind: 'password', username: CF_USER, password: CF_PASS },
        ...UPDATER_CC_TUNING,
      }),
      logger: silentLogger,
      leftoverGraceMs: 0,
      ...over,
    });
  async function boundApp(instances = 2) {
    const name = `gu-app-${++n}`;
    const app = h.cc.addApp({ name, spaceGuid: space.guid, instances });
    h.cc.mapRoute(h.cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
    const bindingId = `gu-binding-${n}`;
    await p
      .put(`/v2/service_instances/${instanceId}/service_bindings/${bindingId}`, bindBody(h.catalog, app.guid))
      .expect(201);
    return { app, bindingId };
  }
  const targets = async (bindingId: string) => (await h.store.get(`active/${bindingId}.json`))?.body;

  before(async () => {
    h = await startBrokerHarness('fs');
    p = asPlatform(h.http);
    const org = h.cc.addOrg('gu-org');
    space = h.cc.addSpace(org.guid, 'gu-space');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    domain = h.cc.addDomain('apps.example.com');
    await p.put(`/v2/service_instances/${instanceId}`, provisionBody(h.catalog)).expect(201);
  });
  after(() => h?.stop());
  afterEach(async () => {
    h.cc.clearFaults();
    h.cc.setLatency(0);
    const s = await reconciler().run();
    assert.ok(s.ok, `the next run succeeds: ${s.error}`);
  });

  it('a run past its timeout aborts its CC requests, leaves the store byte-identical, and is counted as a failure', async () => {
    const { app } = await boundApp();
    h.cc.scale(app.guid, 5);
    const before = await h.dump();
    const metrics = new AppMetrics();
    // A CC answering every 50 ms with next links that never end: paging alone would never stop.
    h.cc.setLatency(50);
    h.cc.injectFault({ match: '/v3/processes', kind: 'endless', times: Infinity });
    const started = Date.now();
    const s = await reconciler({ timeoutMs: 700, metrics }).run();
    assert.equal(s.ok, false);
    assert.equal(s.error, 'reconcile gave up after 0.7 s (RECONCILE_TIMEOUT_SECONDS); nothing was changed');
    assert.ok(Date.now() - started < 2_000, `gave up after ${Date.now() - started} ms`);
    assert.deepEqual(await h.dump(), before);
    assert.match(
      await metrics.registry.getSingleMetricAsString('cf_app_discovery_reconcile_runs_total'),
      /outcome="failure"} 1/,
    );
    const ended = Date.now();
    await new Promise((r) => setTimeout(r, 200)); // requests cut mid-latency are logged late
    assert.deepEqual(
      h.cc.ccRequests().filter((r) => r.at > ended),
      [],
      'no CC request after the run gave up',
    );
  });

  it('a run whose deadline passes while it writes starts no further write', async () => {
    const apps = [];
    for (let i = 0; i < 12; i++) apps.push(await boundApp());
    for (const { app } of apps) h.cc.scale(app.guid, 3);
    const s = await reconciler({ store: slowWrites(h.store, 150), concurrency: 1, timeoutMs: 800 }).run();
    assert.equal(s.ok, false);
    assert.match(
      s.error ?? '',
      /^reconcile gave up after 0\.8 s \(RECONCILE_TIMEOUT_SECONDS\); it had written \d+ and removed 0 target files, and stopped there$/,
    );
    assert.ok(s.written < apps.length, `${s.written} of ${apps.length} written`);
    const rewritten = [];
    for (const { bindingId } of apps) rewritten.push(JSON.parse((await targets(bindingId))!).length === 3);
    assert.equal(rewritten.filter(Boolean).length, s.written, 'exactly the writes it reported, each whole');
  });

  it('an app claiming 50,000,000 instances keeps its file as it is; every other app is reconciled', async () => {
    const huge = await boundApp();
    const other = await boundApp();
    const gone = await boundApp();
    const hugeFile = await targets(huge.bindingId);
    h.cc.scale(huge.app.guid, 50_000_000);
    h.cc.scale(other.app.guid, 3);
    h.cc.deleteApp(gone.app.guid);
    const metrics = new AppMetrics();
    const heapBefore = process.memoryUsage().heapUsed;
    const s = await reconciler({ metrics }).run();
    assert.ok(s.ok, s.error);
    assert.ok(
      process.memoryUsage().heapUsed - heapBefore < 200 * 1024 * 1024,
      'no group per claimed instance was allocated',
    );
    assert.equal(s.refused, 1);
    assert.equal(await targets(huge.bindingId), hugeFile, 'its file is byte-identical');
    assert.equal(JSON.parse((await targets(other.bindingId))!).length, 3);
    assert.equal(await targets(gone.bindingId), undefined);
    assert.match(
      await metrics.registry.getSingleMetricAsString('cf_app_discovery_bindings_refused'),
      /cf_app_discovery_bindings_refused 1/,
    );
    h.cc.scale(huge.app.guid, 4);
    assert.ok((await reconciler().run()).ok);
    assert.equal(
      JSON.parse((await targets(huge.bindingId))!).length,
      4,
      'once the CC answers sense again, the file follows',
    );
    await p
      .delete(
        `/v2/service_instances/${instanceId}/service_bindings/${gone.bindingId}?service_id=${h.catalog.serviceId}&plan_id=${h.catalog.planId}`,
      )
      .expect(200);
  });
});
