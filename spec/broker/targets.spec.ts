import assert from 'node:assert/strict';
import { bumpActiveMarker } from '../../shared/store/marker';
import { BROKER_PASS, BROKER_USER, BrokerHarness, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';

describe('GET /targets (Prometheus http_sd)', function () {
  this.timeout(30_000);
  let h: BrokerHarness;
  const get = () => h.http.get('/targets').auth(BROKER_USER, BROKER_PASS);
  const settle = () => new Promise((r) => setTimeout(r, 1100)); // the view refreshes at most once a second

  before(async () => {
    h = await startBrokerHarness('fs');
  });
  after(() => h?.stop());

  it('needs credentials', async () => {
    await h.http.get('/targets').expect(401);
  });

  it('answers [] as application/json when nothing is bound', async () => {
    const res = await get().expect(200);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.equal(res.text, '[]');
  });

  it('serves the union of all active target groups, following binds and unbinds', async () => {
    const space = h.cc.addSpace(h.cc.addOrg('o').guid, 's');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    const domain = h.cc.addDomain('apps.example.com');
    const apps = ['one', 'two'].map((name, i) => {
      const app = h.cc.addApp({ name, spaceGuid: space.guid, instances: i + 1 });
      h.cc.mapRoute(h.cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
      return app;
    });
    const p = asPlatform(h.http);
    await p.put('/v2/service_instances/t1', provisionBody(h.catalog)).expect(201);
    await p.put('/v2/service_instances/t1/service_bindings/tb1', bindBody(h.catalog, apps[0].guid)).expect(201);
    await p.put('/v2/service_instances/t1/service_bindings/tb2', bindBody(h.catalog, apps[1].guid)).expect(201);
    await settle();
    let groups = (await get().expect(200)).body as Array<{ targets: string[]; labels: Record<string, string> }>;
    assert.equal(groups.length, 3);
    assert.deepEqual(groups.map((g) => g.labels.job).sort(), ['one', 'two', 'two']);
    assert.deepEqual(groups.find((g) => g.labels.job === 'one')?.targets, ['one.apps.example.com']);

    await p.delete(`/v2/service_instances/t1/service_bindings/tb2?${deleteQuery(h.catalog)}`).expect(200);
    await settle();
    groups = (await get().expect(200)).body;
    assert.deepEqual(groups.map((g) => g.labels.job), ['one']);
  });

  it('never serves an invalid object from the store', async () => {
    await h.store.put('active/broken.json', '[{"targets": ["x"], "labels": {"bad-name": "y"}}]');
    await bumpActiveMarker(h.store, 'test');
    await settle();
    const groups = (await get().expect(200)).body as Array<{ labels: Record<string, string> }>;
    assert.ok(groups.every((g) => !('bad-name' in g.labels)));
  });
});
