import assert from 'node:assert/strict';
import { BROKER_PASS, BROKER_USER, BrokerHarness, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, provisionBody } from '../support/osb-client';

/** The value of one sample in Prometheus text format, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('broker /metrics', function () {
  this.timeout(30_000);
  let h: BrokerHarness;
  const scrape = async () => (await h.http.get('/metrics').auth(BROKER_USER, BROKER_PASS).expect(200)).text;

  before(async () => {
    h = await startBrokerHarness('fs');
  });
  after(() => h?.stop());

  it('needs credentials', async () => {
    await h.http.get('/metrics').expect(401);
  });

  it('counts OSB operations by kind and status, CC requests by endpoint, store operations, reconcile runs', async () => {
    const space = h.cc.addSpace(h.cc.addOrg('o').guid, 's');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    const running = h.cc.addApp({ name: 'running', spaceGuid: space.guid, instances: 2 });
    h.cc.mapRoute(
      h.cc.addRoute({ host: 'running', domainGuid: h.cc.addDomain('apps.example.com').guid, spaceGuid: space.guid })
        .guid,
      running.guid,
    );
    const stopped = h.cc.addApp({ name: 'stopped', spaceGuid: space.guid, state: 'STOPPED' });
    const p = asPlatform(h.http);
    const before = await scrape();
    assert.equal(sample(before, 'cf_app_discovery_osb_requests_total', { operation: 'bind' }), undefined);

    await p.put('/v2/service_instances/m1', provisionBody(h.catalog)).expect(201);
    await p.put('/v2/service_instances/m1/service_bindings/mb1', bindBody(h.catalog, running.guid)).expect(201);
    await p.put('/v2/service_instances/m1/service_bindings/mb2', bindBody(h.catalog, stopped.guid)).expect(201);
    await p.put('/v2/service_instances/m1/service_bindings/mb3', bindBody(h.catalog, undefined)).expect(422);
    await h.http.post('/update-targets').auth(BROKER_USER, BROKER_PASS).expect(200);

    const text = await scrape();
    assert.equal(sample(text, 'cf_app_discovery_osb_requests_total', { operation: 'provision', status: '201' }), 1);
    assert.equal(sample(text, 'cf_app_discovery_osb_requests_total', { operation: 'bind', status: '201' }), 2);
    assert.equal(sample(text, 'cf_app_discovery_osb_requests_total', { operation: 'bind', status: '422' }), 1);
    assert.ok(
      (sample(text, 'cf_app_discovery_cc_requests_total', { endpoint: '/v3/apps/:guid', status: '200' }) ?? 0) >= 2,
    );
    assert.ok(
      (sample(text, 'cf_app_discovery_cc_requests_total', { endpoint: '/v3/routes', status: '200' }) ?? 0) >= 3,
    );
    assert.ok((sample(text, 'cf_app_discovery_store_operations_total', { operation: 'put', outcome: 'ok' }) ?? 0) >= 4);
    assert.equal(sample(text, 'cf_app_discovery_reconcile_runs_total', { outcome: 'success' }), 1);
    assert.ok(
      (sample(text, 'cf_app_discovery_reconcile_last_success_timestamp_seconds') ?? 0) > Date.now() / 1000 - 60,
    );
    assert.equal(sample(text, 'cf_app_discovery_bindings_without_targets', { reason: 'app-stopped' }), 1);
    assert.equal(sample(text, 'cf_app_discovery_bindings'), 2);
    assert.ok(sample(text, 'cf_app_discovery_osb_request_duration_seconds_count', { operation: 'bind' }) === 3);
  });

  it('counts failed reconcile runs and CC errors', async () => {
    h.cc.injectFault({ match: '/v3/', status: 503, times: Infinity });
    await h.http.post('/update-targets').auth(BROKER_USER, BROKER_PASS).expect(503);
    h.cc.clearFaults();
    const text = await scrape();
    assert.equal(sample(text, 'cf_app_discovery_reconcile_runs_total', { outcome: 'failure' }), 1);
    assert.ok((sample(text, 'cf_app_discovery_cc_requests_total', { status: '503' }) ?? 0) >= 1);
  });
});
