import assert from 'node:assert/strict';
import { BROKER_PASS, BROKER_USER, BrokerHarness, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';
import { targetGroups } from '../support/target-files';

/** The broker as a writer (bind) and a reader (binding fetch, unbind) of target files. */
describe('broker: target files follow the target file schema', function () {
  this.timeout(30_000);
  let h: BrokerHarness;
  let p: ReturnType<typeof asPlatform>;
  let space: { guid: string };
  let domain: { guid: string };
  const metric = async (series: string) => {
    const text = (await h.http.get('/metrics').auth(BROKER_USER, BROKER_PASS).expect(200)).text;
    const m = new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  const app = (name: string) => {
    const a = h.cc.addApp({ name, spaceGuid: space.guid, instances: 2 });
    h.cc.mapRoute(h.cc.addRoute({ host: 'ok', domainGuid: domain.guid, spaceGuid: space.guid }).guid, a.guid);
    return a;
  };

  before(async () => {
    h = await startBrokerHarness('fs');
    p = asPlatform(h.http);
    space = h.cc.addSpace(h.cc.addOrg('org').guid, 'space');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    domain = h.cc.addDomain('apps.example.com');
    await p.put('/v2/service_instances/ts', provisionBody(h.catalog)).expect(201);
  });
  after(() => h?.stop());

  it('a bind whose rendered file would break the schema writes nothing, answers 500 naming the binding, and is counted', async () => {
    const a = app('line\u2028break');
    const before = await h.dump();
    const res = await p.put('/v2/service_instances/ts/service_bindings/tsb1', bindBody(h.catalog, a.guid)).expect(500);
    assert.match(res.body.description, /binding tsb1: group 0 label "job" contains a control character/);
    assert.deepEqual(await h.dump(), before, 'no target file, no record, no marker bump');
    assert.equal(await metric('cf_app_discovery_target_files_refused_total{writer="bind"}'), 1);
  });

  it('a bind whose file would be larger than any reader accepts (5,000 instances x 20 long labels) writes nothing and tells the app team why (400)', async () => {
    const a = h.cc.addApp({ name: 'wide', spaceGuid: space.guid, instances: 5000 });
    h.cc.mapRoute(h.cc.addRoute({ host: 'wide', domainGuid: domain.guid, spaceGuid: space.guid }).guid, a.guid);
    const labels = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`label_${i}`, 'v'.repeat(256)]));
    const before = await h.dump();
    const res = await p
      .put('/v2/service_instances/ts/service_bindings/tsb-wide', bindBody(h.catalog, a.guid, { labels }))
      .expect(400);
    assert.equal(res.body.error, 'TargetsTooLarge');
    assert.match(res.body.description, /larger than 4194304 bytes.*fewer or shorter labels/);
    assert.deepEqual(await h.dump(), before, 'no target file, no record, no marker bump');
  });

  it('an app named like a platform job is bound under app-<name>', async () => {
    const a = app('prometheus');
    await p.put('/v2/service_instances/ts/service_bindings/tsb2', bindBody(h.catalog, a.guid)).expect(201);
    const groups = JSON.parse((await h.store.get('active/tsb2.json'))!.body);
    assert.equal(groups[0].labels.job, 'app-prometheus');
  });

  it('a binding fetch never reports a tampered file as live targets, counts it, and the unbind still removes it', async () => {
    const a = app('fetched');
    await p.put('/v2/service_instances/ts/service_bindings/tsb3', bindBody(h.catalog, a.guid)).expect(201);
    const groups = targetGroups('evil.example.com', { extra: { __address__: '169.254.169.254:80' } });
    await h.store.put('active/tsb3.json', JSON.stringify(groups));
    const got = await p.get('/v2/service_instances/ts/service_bindings/tsb3').expect(200);
    assert.equal(got.body.credentials.status, 'inactive');
    assert.ok(!JSON.stringify(got.body).includes('evil'), 'nothing of the tampered file is shown');
    assert.equal(
      await metric('cf_app_discovery_invalid_target_files_total{reader="binding_fetch",reason="invalid"}'),
      1,
    );
    assert.ok(
      h.logs.some((l) => l.includes('active/tsb3.json') && !l.includes('169.254')),
      'logged by key, not by body',
    );
    await p.delete(`/v2/service_instances/ts/service_bindings/tsb3?${deleteQuery(h.catalog)}`).expect(200);
    assert.equal(await h.store.get('active/tsb3.json'), undefined);
  });

  it('a binding record with tampered parameters is a damaged record (500 naming the key), not rendered', async () => {
    const a = app('recorded');
    await p.put('/v2/service_instances/ts/service_bindings/tsb4', bindBody(h.catalog, a.guid)).expect(201);
    const record = JSON.parse((await h.store.get('bindings/tsb4.json'))!.body);
    record.parameters = { path: '/metrics\n' };
    await h.store.put('bindings/tsb4.json', JSON.stringify(record));
    const res = await p.get('/v2/service_instances/ts/service_bindings/tsb4').expect(500);
    assert.match(res.body.description, /bindings\/tsb4\.json.*parameters break the published schema/);
  });
});
