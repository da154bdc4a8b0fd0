import assert from 'node:assert/strict';
import { parseAppLabels } from '../../shared/targets/app-metadata';
import type { TargetGroup } from '../../shared/targets/types';
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

describe('app metadata steers monitoring (broker and reconcile)', function () {
  this.timeout(30_000);
  let h: BrokerHarness;
  let spaceGuid: string;
  let domainGuid: string;
  let n = 0;
  const p = () => asPlatform(h.http);
  const bindingPath = (b: string) => `/v2/service_instances/i1/service_bindings/${b}`;
  const metrics = async () => (await h.http.get('/metrics').auth(BROKER_USER, BROKER_PASS).expect(200)).text;
  const targets = async (b: string): Promise<TargetGroup[] | undefined> => {
    const obj = await h.store.get(`active/${b}.json`);
    return obj ? (JSON.parse(obj.body) as TargetGroup[]) : undefined;
  };
  const reconcile = async () => assert.equal((await h.reconciler!.run()).ok, true);
  function newApp(metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}) {
    const name = `app${++n}`;
    const app = h.cc.addApp({ name, spaceGuid, instances: 2 });
    h.cc.mapRoute(h.cc.addRoute({ host: name, domainGuid, spaceGuid }).guid, app.guid);
    if (metadata.labels || metadata.annotations) h.cc.setAppMetadata(app.guid, metadata);
    return app;
  }

  before(async () => {
    h = await startBrokerHarness('fs', {
      config: {
        rendering: {
          appLabels: parseAppLabels('team,example.com/cost-center'),
          scrape: { minIntervalSeconds: 10, maxIntervalSeconds: 600 },
        },
      },
    });
    const space = h.cc.addSpace(h.cc.addOrg('o').guid, 's');
    spaceGuid = space.guid;
    h.cc.grantSpaceRole(CF_USER, space.guid);
    domainGuid = h.cc.addDomain('apps.example.com').guid;
    await p().put('/v2/service_instances/i1', provisionBody(h.catalog)).expect(201);
  });
  after(() => h?.stop());

  it('copies the APP_LABELS labels onto the targets on bind, never an unlisted one, with no extra CC request', async () => {
    const app = newApp({ labels: { team: 'pay', 'example.com/cost-center': 'cc-42', secret: 'hidden-value' } });
    const before = h.cc.requests.length;
    await p().put(bindingPath('labels'), bindBody(h.catalog, app.guid)).expect(201);
    const v3 = h.cc.requests.slice(before).filter((r) => r.path.startsWith('/v3/'));
    assert.equal(v3.length, 3, 'the app, its processes and its routes, as before');
    const groups = (await targets('labels'))!;
    assert.equal(groups.length, 2);
    for (const g of groups) {
      assert.equal(g.labels.team, 'pay');
      assert.equal(g.labels.cost_center, 'cc-42');
      assert.equal(JSON.stringify(g).includes('hidden-value'), false);
    }
  });

  it('picks up a label change on the next reconcile', async () => {
    const app = newApp({ labels: { team: 'pay' } });
    await p().put(bindingPath('relabel'), bindBody(h.catalog, app.guid)).expect(201);
    h.cc.setAppMetadata(app.guid, { labels: { team: 'web' } });
    await reconcile();
    assert.equal((await targets('relabel'))![0].labels.team, 'web');
    h.cc.setAppMetadata(app.guid, { labels: { team: null } });
    await reconcile();
    assert.equal((await targets('relabel'))![0].labels.team, undefined, 'a deleted label leaves the targets');
  });

  it('scrape_interval and scrape_timeout become __scrape_interval__ and __scrape_timeout__', async () => {
    const app = newApp();
    await p()
      .put(bindingPath('interval'), bindBody(h.catalog, app.guid, { scrape_interval: '30s', scrape_timeout: '5s' }))
      .expect(201);
    const [g] = (await targets('interval'))!;
    assert.equal(g.labels.__scrape_interval__, '30s');
    assert.equal(g.labels.__scrape_timeout__, '5s');
  });

  for (const [parameters, named] of [
    [{ scrape_interval: '5s' }, /scrape_interval "5s" is outside the allowed 10s to 600s/],
    [{ scrape_interval: '1h' }, /scrape_interval "1h" is outside the allowed 10s to 600s/],
    [{ scrape_interval: '30s', scrape_timeout: '45s' }, /scrape_timeout "45s" .*\(the scrape_interval\)/],
    [{ scrape_timeout: '0s' }, /scrape_timeout/],
    [{ scrape_interval: 'every minute' }, /scrape_interval must be a Prometheus duration/],
  ] as const) {
    it(`refuses a bind with ${JSON.stringify(parameters)}: 400 naming the parameter, nothing written`, async () => {
      const app = newApp();
      const before = await h.dump();
      const res = await p()
        .put(bindingPath('bounds'), bindBody(h.catalog, app.guid, parameters))
        .expect(400);
      assert.match(res.body.description, named);
      assert.deepEqual(await h.dump(), before);
    });
  }

  it('refuses instance parameters outside the bounds too, and takes those within as defaults', async () => {
    const res = await p()
      .put('/v2/service_instances/i2', provisionBody(h.catalog, { scrape_interval: '20m' }))
      .expect(400);
    assert.match(res.body.description, /scrape_interval "20m" is outside/);
    await p()
      .put('/v2/service_instances/i2', provisionBody(h.catalog, { scrape_interval: '2m' }))
      .expect(201);
    const app = newApp();
    await p().put('/v2/service_instances/i2/service_bindings/defaults', bindBody(h.catalog, app.guid)).expect(201);
    assert.equal((await targets('defaults'))![0].labels.__scrape_interval__, '2m');
  });

  it('publishes the scrape parameters and the bounds in the catalog', async () => {
    const res = await p().get('/v2/catalog').expect(200);
    const binding = res.body.services[0].plans[0].schemas.service_binding.create.parameters;
    assert.ok(binding.properties.scrape_interval.pattern);
    assert.match(binding.properties.scrape_interval.description, /10s to 600s/);
    const instance = res.body.services[0].plans[0].schemas.service_instance.create.parameters;
    assert.ok(instance.properties.scrape_timeout);
  });

  it('an app with prometheus.io/scrape "false" binds without targets and says it opted out; opting in again brings them back', async () => {
    const app = newApp({ annotations: { 'prometheus.io/scrape': 'false' } });
    const bound = await p().put(bindingPath('optout'), bindBody(h.catalog, app.guid)).expect(201);
    assert.equal(bound.body.credentials.status, 'inactive');
    assert.match(bound.body.credentials.detail, /opted out.*prometheus\.io\/scrape/);
    assert.equal(await targets('optout'), undefined);
    const fetched = await p().get(bindingPath('optout')).expect(200);
    assert.match(fetched.body.credentials.detail, /opted out/);

    h.cc.setAppMetadata(app.guid, { annotations: { 'prometheus.io/scrape': null } });
    await reconcile();
    assert.equal((await targets('optout'))?.length, 2, 'targets come back once the annotation is removed');
    assert.equal((await p().get(bindingPath('optout')).expect(200)).body.credentials.status, 'active');

    h.cc.setAppMetadata(app.guid, { annotations: { 'prometheus.io/scrape': 'false' } });
    await reconcile();
    assert.equal(await targets('optout'), undefined, 'opting out again removes them');
    assert.equal(sample(await metrics(), 'cf_app_discovery_bindings_without_targets', { reason: 'opted-out' }), 1);
    assert.match((await p().get(bindingPath('optout')).expect(200)).body.credentials.detail, /opted out/);

    h.cc.setAppMetadata(app.guid, { annotations: { 'prometheus.io/scrape': 'true' } });
    await reconcile();
    assert.equal((await targets('optout'))?.length, 2, '"true" opts in again');
    assert.equal(
      sample(await metrics(), 'cf_app_discovery_bindings_without_targets', { reason: 'opted-out' }),
      undefined,
    );
  });

  it('path, scheme and interval annotations shape the targets; an invalid one is ignored, logged, counted and shown', async () => {
    const app = newApp({
      annotations: {
        'prometheus.io/path': '/internal/metrics',
        'prometheus.io/scheme': 'http',
        'prometheus.io/scrape-interval': '45s',
        'prometheus.io/scrape-timeout': 'soon',
      },
    });
    const before = sample(await metrics(), 'cf_app_discovery_invalid_annotations_total', {
      annotation: 'prometheus.io/scrape-timeout',
    });
    const bound = await p().put(bindingPath('annotated'), bindBody(h.catalog, app.guid)).expect(201);
    assert.equal(bound.body.credentials.status, 'active');
    assert.deepEqual(
      bound.body.credentials.ignored_annotations.map((a: { annotation: string }) => a.annotation),
      ['prometheus.io/scrape-timeout'],
    );
    const [g] = (await targets('annotated'))!;
    assert.equal(g.labels.__metrics_path__, '/internal/metrics');
    assert.equal(g.labels.__param_cf_app_scheme, 'http');
    assert.equal(g.labels.__scrape_interval__, '45s');
    assert.equal(g.labels.__scrape_timeout__, undefined);
    assert.ok(h.logs.some((l) => l.includes('prometheus.io/scrape-timeout') && l.includes('ignored')));
    const counted = sample(await metrics(), 'cf_app_discovery_invalid_annotations_total', {
      annotation: 'prometheus.io/scrape-timeout',
    });
    assert.equal(counted, (before ?? 0) + 1);
    const fetched = await p().get(bindingPath('annotated')).expect(200);
    assert.equal(fetched.body.credentials.ignored_annotations[0].annotation, 'prometheus.io/scrape-timeout');
    assert.match(fetched.body.credentials.ignored_annotations[0].problem, /not a Prometheus duration/);

    await reconcile();
    assert.ok(
      sample(await metrics(), 'cf_app_discovery_invalid_annotations_total', {
        annotation: 'prometheus.io/scrape-timeout',
      })! > counted!,
      'the reconcile counts it too',
    );
  });
});
