import assert from 'node:assert/strict';
import { CloudControllerClient } from '../../shared/cc';
import { silentLogger } from '../../shared/logger';
import { AppMetrics } from '../../shared/metrics';
import { MAX_RECORD_BYTES } from '../../shared/records/records';
import { Reconciler, ReconcilerOptions } from '../../updater/reconciler';
import { BrokerHarness, CF_PASS, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';

describe('updater: reconcile bindings with the Cloud Controller, over HTTP', function () {
  this.timeout(30_000);
  let h: BrokerHarness;
  let p: ReturnType<typeof asPlatform>;
  let space: { guid: string };
  let domain: { guid: string };
  let n = 0;
  const instanceId = 'updater-instance';

  const reconciler = (over: Partial<ReconcilerOptions> = {}) =>
    new Reconciler({
      store: h.store,
      cc: new CloudControllerClient({
        apiUrl: h.cc.url,
        auth: { kind: 'password', username: CF_USER, password: CF_PASS },
        timeoutMs: 1000,
        retries: 0,
        maxRetryAfterMs: 2000,
      }),
      logger: silentLogger,
      leftoverGraceMs: 0,
      ...over,
    });

  async function boundApp(opts: { instances?: number; name?: string } = {}) {
    n++;
    const name = opts.name ?? `app-${n}`;
    const app = h.cc.addApp({ name, spaceGuid: space.guid, instances: opts.instances ?? 2 });
    const route = h.cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid });
    h.cc.mapRoute(route.guid, app.guid);
    const bindingId = `binding-${n}`;
    await p
      .put(`/v2/service_instances/${instanceId}/service_bindings/${bindingId}`, bindBody(h.catalog, app.guid))
      .expect(201);
    return { app, route, bindingId };
  }
  const targets = async (bindingId: string) => {
    const o = await h.store.get(`active/${bindingId}.json`);
    return o ? (JSON.parse(o.body) as Array<{ targets: string[]; labels: Record<string, string> }>) : undefined;
  };

  before(async () => {
    h = await startBrokerHarness('fs');
    p = asPlatform(h.http);
    const org = h.cc.addOrg('my-org');
    space = h.cc.addSpace(org.guid, 'prod');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    domain = h.cc.addDomain('apps.example.com');
    await p.put(`/v2/service_instances/${instanceId}`, provisionBody(h.catalog)).expect(201);
  });
  after(() => h?.stop());
  afterEach(() => h.cc.clearFaults());

  it('follows scale up and down, and bumps the change marker when it wrote', async () => {
    const { app, bindingId } = await boundApp({ instances: 2 });
    h.cc.scale(app.guid, 4);
    const marker = await h.store.get('markers/active.json');
    const s = await reconciler().run();
    assert.notEqual((await h.store.get('markers/active.json'))?.etag, marker?.etag);
    assert.ok(s.ok, s.error);
    assert.equal((await targets(bindingId))?.length, 4);
    assert.equal((await targets(bindingId))?.[3].labels.instance, `${app.guid}:3`);
    h.cc.scale(app.guid, 1);
    await reconciler().run();
    assert.equal((await targets(bindingId))?.length, 1);
  });

  it('removes the file of a stopped app and brings it back when it starts', async () => {
    const { app, bindingId } = await boundApp();
    h.cc.stopApp(app.guid);
    const s = await reconciler().run();
    assert.ok(s.ok && s.removed >= 1);
    assert.equal(await targets(bindingId), undefined);
    assert.ok(await h.store.get(`bindings/${bindingId}.json`), 'the binding itself stays');
    h.cc.startApp(app.guid);
    await reconciler().run();
    assert.equal((await targets(bindingId))?.length, 2);
  });

  it('follows a rename, keeping the job through a blue-green -venerable rename', async () => {
    const { app, bindingId } = await boundApp({ name: 'shop-rename' });
    h.cc.rename(app.guid, 'shop-rename-venerable');
    const r = reconciler();
    await r.run();
    assert.equal((await targets(bindingId))?.[0].labels.job, 'shop-rename');
    h.cc.rename(app.guid, 'shop-v2');
    await r.run();
    assert.equal((await targets(bindingId))?.[0].labels.job, 'shop-v2');
  });

  it('follows a re-route, and a new route whose path ends in metrics changes the metrics path', async () => {
    const { app, route, bindingId } = await boundApp();
    const moved = h.cc.addRoute({ host: `moved-${n}`, domainGuid: domain.guid, spaceGuid: space.guid });
    h.cc.mapRoute(moved.guid, app.guid);
    h.cc.unmapRoute(route.guid, app.guid);
    const r = reconciler();
    await r.run();
    assert.deepEqual((await targets(bindingId))?.[0].targets, [`moved-${n}.apps.example.com`]);
    const ops = h.cc.addRoute({
      host: `ops-${n}`,
      domainGuid: domain.guid,
      spaceGuid: space.guid,
      path: '/internal/metrics',
    });
    h.cc.mapRoute(ops.guid, app.guid);
    await r.run();
    const t = (await targets(bindingId))![0];
    assert.deepEqual(t.targets, [`ops-${n}.apps.example.com`]);
    assert.equal(t.labels.__metrics_path__, '/internal/metrics');
  });

  it('removes the file of an app left with internal routes only', async () => {
    const { app, route, bindingId } = await boundApp();
    const internal = h.cc.addDomain('apps.internal', { internal: true });
    h.cc.mapRoute(h.cc.addRoute({ host: `c2c-${n}`, domainGuid: internal.guid, spaceGuid: space.guid }).guid, app.guid);
    h.cc.unmapRoute(route.guid, app.guid);
    await reconciler().run();
    assert.equal(await targets(bindingId), undefined);
  });

  it('removes the file of a deleted app, and an active/ file that has no binding record', async () => {
    const { app, bindingId } = await boundApp();
    h.cc.deleteApp(app.guid);
    await h.store.put('active/leftover-by-hand.json', '[]\n');
    const s = await reconciler().run();
    assert.ok(s.ok, s.error);
    assert.equal(await targets(bindingId), undefined);
    assert.equal(await h.store.get('active/leftover-by-hand.json'), undefined);
  });

  it('refuses to remove target files when many lose their binding records at once, and keeps them all', async () => {
    const live = await boundApp();
    // More than half of all target files, whatever earlier tests left in active/.
    const count = Math.max(6, (await h.store.list('active/')).length + 1);
    const orphans = Array.from({ length: count }, (_, i) => `active/records-lost-${i}.json`);
    for (const key of orphans) await h.store.put(key, '[]\n');
    const s = await reconciler().run();
    assert.equal(s.ok, false);
    assert.match(
      s.error ?? '',
      new RegExp(`^${count} of \\d+ target files have no binding record at once; refusing to remove them`),
    );
    for (const key of orphans) assert.ok(await h.store.get(key), `${key} kept`);
    assert.ok(await targets(live.bindingId));
    for (const key of orphans) await h.store.delete(key);
  });

  it('keeps a young active/ file without a record: it may be a bind in progress', async () => {
    await h.store.put('active/bind-in-flight.json', '[]\n');
    await reconciler({ leftoverGraceMs: 60_000 }).run();
    assert.ok(await h.store.get('active/bind-in-flight.json'));
    await h.store.delete('active/bind-in-flight.json');
  });

  it('scrapes up to the larger instance count during a rolling deploy, then settles', async () => {
    const { app, bindingId } = await boundApp({ instances: 2 });
    h.cc.startRollingDeploy(app.guid, 3);
    const r = reconciler();
    await r.run();
    assert.equal((await targets(bindingId))?.length, 3);
    h.cc.scale(app.guid, 3); // both processes, as CC scales the deploying app
    h.cc.finishRollingDeploy(app.guid);
    h.cc.scale(app.guid, 1);
    await r.run();
    assert.equal((await targets(bindingId))?.length, 1);
  });

  it('leaves unchanged files untouched: a second run writes nothing and reads no record', async () => {
    await boundApp();
    const r = reconciler();
    assert.ok((await r.run()).ok);
    const before = await h.store.list('active/');
    const marker = await h.store.get('markers/active.json');
    const s = await r.run();
    assert.equal(
      (await h.store.get('markers/active.json'))?.etag,
      marker?.etag,
      'nothing changed, so sidecars are not woken',
    );
    assert.ok(s.ok);
    assert.equal(s.written, 0);
    assert.equal(s.removed, 0);
    assert.equal(s.storeReads, 0);
    assert.ok(s.unchanged >= 1);
    assert.deepEqual(await h.store.list('active/'), before, 'same etags and modification times');
  });

  it('asks the CC in batched list calls, not per app', async () => {
    for (let i = 0; i < 5; i++) await boundApp();
    h.cc.resetRequests();
    const s = await reconciler({ chunkSize: 100 }).run();
    assert.ok(s.ok);
    const v3 = h.cc.requests.filter((q) => q.path.startsWith('/v3'));
    assert.equal(v3.length, 3, v3.map((q) => q.path).join(' '));
    assert.equal(s.ccRequests, 3);
  });

  it('does not give an unbound binding its file back', async () => {
    const { bindingId } = await boundApp();
    await p
      .delete(`/v2/service_instances/${instanceId}/service_bindings/${bindingId}?${deleteQuery(h.catalog)}`)
      .expect(200);
    await reconciler().run();
    assert.equal(await targets(bindingId), undefined);
  });

  it('does not give a file back to a binding unbound while the run writes (its put lands after the unbind)', async () => {
    const { app, bindingId } = await boundApp({ instances: 2 });
    h.cc.scale(app.guid, 3);
    const unbind = () =>
      p
        .delete(`/v2/service_instances/${instanceId}/service_bindings/${bindingId}?${deleteQuery(h.catalog)}`)
        .expect(200);
    // The run has read the record and planned the write; the whole unbind completes before the
    // write reaches the store: without a second look the run would publish an unbound app.
    const store = new Proxy(h.store, {
      get(target, prop) {
        if (prop === 'put') {
          return async (key: string, body: string) => {
            if (key === `active/${bindingId}.json`) await unbind();
            return target.put(key, body);
          };
        }
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const s = await reconciler({ store, leftoverGraceMs: 120_000 }).run();
    assert.equal(s.ok, true, s.error);
    assert.equal(await targets(bindingId), undefined, 'Prometheus must not keep scraping an unbound app');
    assert.equal(await h.store.get(`bindings/${bindingId}.json`), undefined);
  });

  describe('faults change nothing', () => {
    let pending: { app: { guid: string }; bindingId: string };
    beforeEach(async () => {
      pending = await boundApp({ instances: 2 });
      await reconciler().run();
      h.cc.scale(pending.app.guid, 5); // a change the faulty run must not half-apply
      h.cc.deleteApp((await boundApp()).app.guid); // and a removal it must not make
    });
    afterEach(async () => {
      h.cc.clearFaults();
      assert.ok((await reconciler().run()).ok, 'recovers once the fault is gone');
      assert.equal((await targets(pending.bindingId))?.length, 5);
    });

    const faults: Array<[string, () => void]> = [
      ['503 on one list', () => h.cc.injectFault({ match: '/v3/processes', status: 503, times: Infinity })],
      [
        '429 whose Retry-After is longer than the run may wait',
        () => h.cc.injectFault({ match: '/v3/routes', status: 429, retryAfterSeconds: 60, times: Infinity }),
      ],
      ['a truncated page', () => h.cc.injectTruncatedPage('/v3/apps', Infinity)],
      ['a body cut mid-JSON', () => h.cc.injectFault({ match: '/v3/routes', kind: 'cut', times: Infinity })],
      ['a timeout', () => h.cc.injectTimeout('/v3/processes', Infinity)],
      [
        'UAA refusing a new token',
        () => {
          h.cc.expireAllTokens();
          h.cc.injectFault({ match: '/oauth/token', status: 401, times: Infinity });
        },
      ],
    ];
    for (const [name, inject] of faults) {
      it(`${name}: the run fails and the store is byte-identical`, async () => {
        const r = reconciler();
        await r.run(); // warm: token and caches, as a long-running updater has them
        const before = await h.dump();
        inject();
        const s = await r.run();
        assert.equal(s.ok, false);
        assert.ok(s.error);
        assert.deepEqual(await h.dump(), before);
      });
    }

    it('a 401 that a token refresh fixes does not fail the run', async () => {
      const r = reconciler();
      await r.run();
      h.cc.expireAllTokens();
      const s = await r.run();
      assert.ok(s.ok, s.error);
    });

    it('a 429 with a short Retry-After is waited out', async () => {
      h.cc.injectFault({ match: '/v3/apps', status: 429, retryAfterSeconds: 1 });
      const s = await reconciler().run();
      assert.ok(s.ok, s.error);
    });
  });

  it('refuses to remove targets when most bound apps vanish at once', async () => {
    const apps = [];
    for (let i = 0; i < 6; i++) apps.push(await boundApp());
    const r = reconciler();
    await r.run();
    const before = await h.dump();
    h.cc.expireAllTokens();
    // The broker's user loses its role: every app of the space disappears from its view.
    const lonely = h.cc.addSpace(h.cc.addOrg('elsewhere').guid, 'x');
    h.cc.principals.get(CF_USER)!.spaces = new Set([lonely.guid]);
    const s = await r.run();
    h.cc.grantSpaceRole(CF_USER, space.guid);
    assert.equal(s.ok, false);
    assert.match(s.error ?? '', /missing from the Cloud Controller at once/);
    assert.deepEqual(await h.dump(), before);
  });

  describe('records tampered in the store', () => {
    const tamper = async (key: string, change: (record: Record<string, unknown>) => void) => {
      const record = JSON.parse((await h.store.get(key))!.body) as Record<string, unknown>;
      change(record);
      await h.store.put(key, JSON.stringify(record));
    };
    const metric = async (metrics: AppMetrics, name: string) => {
      const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(await metrics.registry.metrics());
      return m ? Number(m[1]) : undefined;
    };

    it('a binding record whose parameters break the published schema is not rendered: its file stays as it is, and it is counted', async () => {
      const tampered: Array<[string, Record<string, unknown>]> = [
        ['a path with a line break', { path: '/metrics\nX-Injected: 1' }],
        ['an __address__ label', { labels: { __address__: '169.254.169.254:80' } }],
        ['a path that climbs', { path: '/../admin' }],
        ["a label of this service's metrics", { labels: { cf_app_discovery_up: '1' } }],
      ];
      const bound = [];
      for (const [, parameters] of tampered) {
        const b = await boundApp();
        await tamper(`bindings/${b.bindingId}.json`, (r) => {
          r.parameters = parameters;
        });
        h.cc.scale(b.app.guid, 3); // a change the run would write, were the record trusted
        bound.push({ ...b, before: (await h.store.get(`active/${b.bindingId}.json`))!.body });
      }
      const metrics = new AppMetrics();
      const s = await reconciler({ metrics }).run();
      assert.ok(s.ok, s.error);
      for (const [i, b] of bound.entries()) {
        assert.equal(
          (await h.store.get(`active/${b.bindingId}.json`))?.body,
          b.before,
          `${tampered[i][0]}: the file is left as it was`,
        );
      }
      assert.equal(await metric(metrics, 'cf_app_discovery_corrupt_records_total{kind="binding"}'), tampered.length);
      assert.ok((await metric(metrics, 'cf_app_discovery_corrupt_records'))! >= tampered.length);
      for (const b of bound) await h.store.delete(`bindings/${b.bindingId}.json`);
      await reconciler().run();
    });

    it('a record larger than MAX_RECORD_BYTES is corrupt and never read', async () => {
      const { app, bindingId } = await boundApp();
      await tamper(`bindings/${bindingId}.json`, (r) => {
        r.padding = 'x'.repeat(MAX_RECORD_BYTES);
      });
      h.cc.scale(app.guid, 3);
      const before = (await h.store.get(`active/${bindingId}.json`))!.body;
      const r = reconciler();
      const s = await r.run();
      assert.ok(s.ok, s.error);
      assert.equal((await h.store.get(`active/${bindingId}.json`))?.body, before);
      h.cc.scale(app.guid, 2);
      assert.equal((await r.run()).storeReads, 0, "a later run reads nothing: the listing's size decides");
      await h.store.delete(`bindings/${bindingId}.json`);
      await reconciler().run();
    });

    it('an instance record with tampered parameters leaves the targets of its bindings as they are', async () => {
      const other = 'tampered-instance';
      await p.put(`/v2/service_instances/${other}`, provisionBody(h.catalog)).expect(201);
      const app = h.cc.addApp({ name: 'inst-app', spaceGuid: space.guid, instances: 2 });
      h.cc.mapRoute(h.cc.addRoute({ host: 'inst-app', domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
      await p.put(`/v2/service_instances/${other}/service_bindings/inst-b`, bindBody(h.catalog, app.guid)).expect(201);
      await tamper(`instances/${other}.json`, (r) => {
        r.parameters = { labels: { __scheme__: 'http' } };
      });
      const before = (await h.store.get('active/inst-b.json'))!.body;
      h.cc.scale(app.guid, 4);
      const s = await reconciler().run();
      assert.ok(s.ok, s.error);
      assert.equal(
        (await h.store.get('active/inst-b.json'))?.body,
        before,
        'neither rewritten nor removed as "instance gone"',
      );
      await h.store.delete('bindings/inst-b.json');
      await h.store.delete(`instances/${other}.json`);
      await reconciler().run();
    });
  });

  it('joins a run already in flight instead of starting a second', async () => {
    const r = reconciler();
    const [a, b] = await Promise.all([r.run(), r.run()]);
    assert.equal(a, b);
  });
});
