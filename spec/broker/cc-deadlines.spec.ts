import assert from 'node:assert/strict';
import { KeyedMutex } from '../../shared/keyed-mutex';
import { MAX_INSTANCES_PER_APP } from '../../shared/targets/snapshot';
import { BROKER_PASS, BROKER_USER, BrokerHarness, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';

/** Short deadlines injected so the tests take a second, not CF's 60 s. */
const BIND_DEADLINE_MS = 500;
const RECONCILE_TIMEOUT_MS = 500;

/*
 * A Cloud Controller that never answers, or pages without end, must not hold a bind (CF gives
 * up after 60 s and orphan-mitigates), its binding's lock, or POST /update-targets. An app that
 * claims 50,000,000 instances must not crash the broker.
 */
describe('broker: deadlines on Cloud Controller answers', function () {
  this.timeout(20_000);
  let h: BrokerHarness;
  let p: ReturnType<typeof asPlatform>;
  let space: { guid: string };
  let domain: { guid: string };
  let n = 0;
  const instanceId = 'deadline-instance';
  const bindPath = (bindingId: string) => `/v2/service_instances/${instanceId}/service_bindings/${bindingId}`;

  function pushApp(instances = 2) {
    const name = `dl-app-${++n}`;
    const app = h.cc.addApp({ name, spaceGuid: space.guid, instances });
    h.cc.mapRoute(h.cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
    return app;
  }

  before(async () => {
    h = await startBrokerHarness('fs', {
      tuning: { bindDeadlineMs: BIND_DEADLINE_MS },
      config: { reconcileTimeoutMs: RECONCILE_TIMEOUT_MS },
    });
    p = asPlatform(h.http);
    const org = h.cc.addOrg('dl-org');
    space = h.cc.addSpace(org.guid, 'dl-space');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    domain = h.cc.addDomain('apps.example.com');
    await p.put(`/v2/service_instances/${instanceId}`, provisionBody(h.catalog)).expect(201);
    await p.put(bindPath('warm-up'), bindBody(h.catalog, pushApp().guid)).expect(201); // the CC client has its token
  });
  after(() => h?.stop());
  afterEach(() => {
    h.cc.clearFaults();
    h.cc.setLatency(0);
  });

  const stuckCcs: Array<[string, (h: BrokerHarness) => void]> = [
    ['never answers', (b) => b.cc.injectTimeout('/v3/', Infinity)],
    // 50 ms a page and next links without end: forever on a client that only counts pages.
    [
      'pages without end',
      (b) => {
        b.cc.setLatency(50);
        b.cc.injectFault({ match: '/v3/routes', kind: 'endless', times: Infinity });
      },
    ],
  ];
  for (const [what, inject] of stuckCcs) {
    it(`a bind against a CC that ${what} answers 503 by its deadline, writes nothing, and frees the binding`, async () => {
      const app = pushApp();
      const bindingId = `stuck-${n}`;
      const before = await h.dump();
      inject(h);
      const started = Date.now();
      const res = await p.put(bindPath(bindingId), bindBody(h.catalog, app.guid));
      const took = Date.now() - started;
      assert.equal(res.status, 503);
      assert.equal(res.body.error, 'ServiceUnavailable');
      assert.match(
        res.body.description,
        new RegExp(
          `Cloud Controller is too slow: it did not answer .* within ${BIND_DEADLINE_MS / 1000} s\\. Nothing was bound`,
        ),
      );
      assert.ok(took < BIND_DEADLINE_MS + 1_000, `answered after ${took} ms`);
      assert.deepEqual(await h.dump(), before, 'nothing written');

      // The lock on the binding was released: CF's retry, and an unbind, go through.
      h.cc.clearFaults();
      h.cc.setLatency(0);
      await p.put(bindPath(bindingId), bindBody(h.catalog, app.guid)).expect(201);
      await p.delete(`${bindPath(bindingId)}?${deleteQuery(h.catalog)}`).expect(200);
    });
  }

  it('a bind of an app claiming 50,000,000 instances fails at once with 400 naming both counts, and writes nothing', async () => {
    const app = pushApp(50_000_000);
    const before = await h.dump();
    const started = Date.now();
    const res = await p.put(bindPath(`huge-${n}`), bindBody(h.catalog, app.guid));
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'AppNotMonitorable');
    assert.match(
      res.body.description,
      new RegExp(
        `app ${app.name} reports 50000000 web instances, more than the ${MAX_INSTANCES_PER_APP} this service scrapes`,
      ),
    );
    assert.ok(Date.now() - started < 2_000);
    assert.deepEqual(await h.dump(), before);
    h.cc.scale(app.guid, -1);
    const negative = await p.put(bindPath(`negative-${n}`), bindBody(h.catalog, app.guid)).expect(400);
    assert.match(negative.body.description, /reports -1 web instances, which is not a count/);
  });

  it('POST /update-targets against a CC that pages without end answers 503 once the run gives up, and changes nothing', async () => {
    const app = pushApp();
    await p.put(bindPath(`ut-${n}`), bindBody(h.catalog, app.guid)).expect(201);
    h.cc.scale(app.guid, 4); // a change the abandoned run must not make
    const before = await h.dump();
    h.cc.setLatency(50);
    h.cc.injectFault({ match: '/v3/apps', kind: 'endless', times: Infinity });
    const started = Date.now();
    const res = await h.http.post('/update-targets').auth(BROKER_USER, BROKER_PASS);
    assert.equal(res.status, 503);
    assert.equal(res.body.ok, false);
    assert.match(res.body.error, /^reconcile gave up after 0\.5 s \(RECONCILE_TIMEOUT_SECONDS\); nothing was changed$/);
    assert.ok(Date.now() - started < RECONCILE_TIMEOUT_MS + 1_500, `answered after ${Date.now() - started} ms`);
    assert.deepEqual(await h.dump(), before, 'the store is byte-identical');
    assert.match(
      await h.metrics.registry.getSingleMetricAsString('cf_app_discovery_reconcile_runs_total'),
      /outcome="failure"} 1/,
    );
  });
});

describe('KeyedMutex', () => {
  it('releases a key when the work throws: the next holder of the same key runs', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const first = mutex.run('binding:a', async () => {
      order.push('first');
      throw new Error('store down');
    });
    const second = mutex.run('binding:a', async () => {
      order.push('second');
      return 'ran';
    });
    await assert.rejects(first, /store down/);
    assert.equal(await second, 'ran');
    assert.deepEqual(order, ['first', 'second']);
    assert.equal(await mutex.run('binding:a', async () => 'again'), 'again');
  });
});
