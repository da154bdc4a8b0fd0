import assert from 'node:assert/strict';
import { BROKER_PASS, BrokerHarness, CF_PASS, CF_USER, startBrokerHarness, StoreKind } from '../support/broker-harness';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';
import { integrationIf } from '../support/integration';

/** Seeds an org, a space, a domain and a started app with two instances and one route. */
function seedApp(h: BrokerHarness, over: { name?: string; instances?: number; state?: 'STARTED' | 'STOPPED' } = {}) {
  const org = h.cc.addOrg('my-org');
  const space = h.cc.addSpace(org.guid, 'prod');
  h.cc.grantSpaceRole(CF_USER, space.guid);
  const domain = h.cc.addDomain('apps.example.com');
  const app = h.cc.addApp({
    name: over.name ?? 'shop',
    spaceGuid: space.guid,
    instances: over.instances ?? 2,
    state: over.state ?? 'STARTED',
  });
  const route = h.cc.addRoute({ host: over.name ?? 'shop', domainGuid: domain.guid, spaceGuid: space.guid });
  h.cc.mapRoute(route.guid, app.guid);
  return { org, space, domain, app, route };
}

for (const kind of ['fs', 's3'] as StoreKind[]) {
  describe(`broker lifecycle on the ${kind} store, against the CC emulator${integrationIf(kind === 's3')}`, function () {
    this.timeout(30_000);
    let h: BrokerHarness;
    let p: ReturnType<typeof asPlatform>;
    let n = 0;
    const id = (prefix: string) => `${prefix}-${kind}-${++n}`;

    before(async () => {
      h = await startBrokerHarness(kind);
      p = asPlatform(h.http);
    });
    after(async () => h?.stop());
    afterEach(() => h.cc.clearFaults());

    async function provision(instanceId: string, parameters?: unknown) {
      await p
        .put(`/v2/service_instances/${instanceId}?accepts_incomplete=true`, provisionBody(h.catalog, parameters))
        .expect(201);
    }

    describe('provision, fetch, update, deprovision', () => {
      it('creates with 201 {}, repeats identically with 200 {}, and conflicts with 409', async () => {
        const i = id('inst');
        const res = await p
          .put(
            `/v2/service_instances/${i}?accepts_incomplete=true`,
            provisionBody(h.catalog, { labels: { team: 'pay' } }),
          )
          .expect(201);
        assert.deepEqual(res.body, {});
        await p
          .put(`/v2/service_instances/${i}`, provisionBody(h.catalog, { labels: { team: 'pay' } }))
          .expect(200, {});
        const c = await p
          .put(`/v2/service_instances/${i}`, provisionBody(h.catalog, { labels: { team: 'other' } }))
          .expect(409);
        assert.equal(c.body.error, 'Conflict');
        assert.match(c.body.description, /already exists with different attributes/);
        const got = await p.get(`/v2/service_instances/${i}`).expect(200);
        assert.deepEqual(got.body, {
          service_id: h.catalog.serviceId,
          plan_id: h.catalog.planId,
          parameters: { labels: { team: 'pay' } },
        });
      });

      it('refuses unknown service or plan ids, missing fields and invalid parameters with 400, storing nothing', async () => {
        const before = await h.dump();
        const i = id('bad');
        let res = await p
          .put(`/v2/service_instances/${i}`, { ...provisionBody(h.catalog), service_id: 'nope' })
          .expect(400);
        assert.match(res.body.description, /Unknown service_id "nope": this broker offers only service "prometheus"/);
        res = await p.put(`/v2/service_instances/${i}`, { ...provisionBody(h.catalog), plan_id: 'gold' }).expect(400);
        assert.match(res.body.description, /Unknown plan_id "gold"/);
        res = await p
          .put(`/v2/service_instances/${i}`, { ...provisionBody(h.catalog), organization_guid: undefined })
          .expect(400);
        assert.match(res.body.description, /"organization_guid" as a non-empty string/);
        res = await p.put(`/v2/service_instances/${i}`, provisionBody(h.catalog, { colour: 'red' })).expect(400);
        assert.match(res.body.description, /unknown parameter "colour"; supported: labels/);
        res = await p
          .put(`/v2/service_instances/${i}`, provisionBody(h.catalog, { labels: { instance: 'x' } }))
          .expect(400);
        assert.match(res.body.description, /"instance" is set by the broker/);
        assert.deepEqual(await h.dump(), before);
        await p.get(`/v2/service_instances/${i}`).expect(404);
      });

      it('updates parameters with 200 {}; an invalid update or unknown instance changes nothing', async () => {
        const i = id('upd');
        await provision(i, { labels: { team: 'a' } });
        await p
          .patch(`/v2/service_instances/${i}`, {
            service_id: h.catalog.serviceId,
            parameters: { labels: { team: 'b' } },
          })
          .expect(200, {});
        assert.deepEqual((await p.get(`/v2/service_instances/${i}`).expect(200)).body.parameters, {
          labels: { team: 'b' },
        });
        const before = await h.dump();
        await p
          .patch(`/v2/service_instances/${i}`, {
            service_id: h.catalog.serviceId,
            parameters: { labels: { __x: '1' } },
          })
          .expect(400);
        await p
          .patch(`/v2/service_instances/${i}`, { service_id: h.catalog.serviceId, plan_id: 'other-plan' })
          .expect(400);
        await p.patch(`/v2/service_instances/${id('none')}`, { service_id: h.catalog.serviceId }).expect(404);
        assert.deepEqual(await h.dump(), before);
        await p
          .patch(`/v2/service_instances/${i}`, {
            service_id: h.catalog.serviceId,
            context: { platform: 'cloudfoundry' },
          })
          .expect(200, {});
        assert.deepEqual((await p.get(`/v2/service_instances/${i}`).expect(200)).body.parameters, {
          labels: { team: 'b' },
        });
      });

      it('deprovisions with 200 {}, then 410 {}; needs service_id and plan_id; never calls the CC', async () => {
        const i = id('dep');
        await provision(i);
        await p.delete(`/v2/service_instances/${i}?accepts_incomplete=true`).expect(400);
        h.cc.resetRequests();
        await p.delete(`/v2/service_instances/${i}?${deleteQuery(h.catalog)}`).expect(200, {});
        await p.delete(`/v2/service_instances/${i}?${deleteQuery(h.catalog)}`).expect(410, {});
        assert.equal(h.cc.requests.length, 0);
        await p.get(`/v2/service_instances/${i}`).expect(404);
      });
      it('deprovisions an instance that still has bindings: their records and target files go with it, logged; other instances keep theirs', async () => {
        const { app } = seedApp(h, { name: `dangle-${kind}` });
        const [i, other] = [id('dep-bound'), id('dep-other')];
        const [b1, b2, kept] = [id('b~tilde'), id('b'), id('kept')];
        await provision(i);
        await provision(other);
        for (const [inst, b] of [
          [i, b1],
          [i, b2],
          [other, kept],
        ]) {
          await p.put(`/v2/service_instances/${inst}/service_bindings/${b}`, bindBody(h.catalog, app.guid)).expect(201);
        }
        const markerBefore = (await h.store.get('markers/active.json'))?.body;
        h.logs.length = 0;
        await p.delete(`/v2/service_instances/${i}?${deleteQuery(h.catalog)}`).expect(200, {});
        const keys = Object.keys(await h.dump());
        for (const b of [b1, b2]) {
          assert.ok(!keys.includes(`bindings/${b}.json`), `binding record ${b} outlived its instance`);
          assert.ok(!keys.includes(`active/${b}.json`), `target file ${b} outlived its instance`);
        }
        assert.ok(
          keys.includes(`bindings/${kept}.json`) && keys.includes(`active/${kept}.json`),
          'a binding of another instance was touched',
        );
        assert.notEqual(
          (await h.store.get('markers/active.json'))?.body,
          markerBefore,
          'sidecars were not told that active/ changed',
        );
        const logged = h.logs
          .join('')
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg: string; bindingId?: string });
        assert.deepEqual(
          logged
            .filter((l) => /binding removed with its service instance/.test(l.msg))
            .map((l) => l.bindingId)
            .sort(),
          [b1, b2].sort(),
        );
        await p.get(`/v2/service_instances/${i}/service_bindings/${b1}`).expect(404);
        await p.delete(`/v2/service_instances/${i}?${deleteQuery(h.catalog)}`).expect(410, {});
      });
    });

    describe('bind, fetch binding, unbind', () => {
      it('accepts the URL-safe ids OSB recommends ("~" included) for instances and bindings', async () => {
        const { app } = seedApp(h, { name: `tilde-${kind}` });
        const [i, b] = [`abc~def-${kind}`, `b~1.x_y-${kind}`];
        await provision(i);
        await p.put(`/v2/service_instances/${i}/service_bindings/${b}`, bindBody(h.catalog, app.guid)).expect(201);
        assert.ok(await h.store.get(`active/${b}.json`), 'target file written under the id as sent');
        await p.get(`/v2/service_instances/${i}/service_bindings/${b}`).expect(200);
        await p.delete(`/v2/service_instances/${i}/service_bindings/${b}?${deleteQuery(h.catalog)}`).expect(200, {});
        // "." and ".." as a whole id are refused (400), or never reach the route at all (404).
        for (const bad of ['~lead', '%2E', '%2E%2E', '.', '..']) {
          const res = await p.put(`/v2/service_instances/${bad}`, provisionBody(h.catalog));
          assert.ok([400, 404].includes(res.status), `${bad}: ${res.status}`);
        }
      });

      it('binds with 201 and writes one target group per instance with the documented labels', async () => {
        const { app } = seedApp(h, { name: 'shop' });
        const i = id('inst');
        const b = id('bind');
        await provision(i, { labels: { team: 'pay' } });
        const res = await p
          .put(
            `/v2/service_instances/${i}/service_bindings/${b}?accepts_incomplete=true`,
            bindBody(h.catalog, app.guid, { labels: { tier: 'web' } }),
          )
          .expect(201);
        assert.equal(res.body.credentials.status, 'active');
        assert.equal(res.body.credentials.targets, 2);
        const file = await h.store.get(`active/${b}.json`);
        assert.ok(file, 'target file written');
        const groups = JSON.parse(file.body);
        assert.equal(groups.length, 2);
        assert.deepEqual(groups[0], {
          targets: ['shop.apps.example.com'],
          labels: {
            job: 'shop',
            org: 'my-org',
            space: 'prod',
            instance: `${app.guid}:0`,
            __param_cf_app_guid: app.guid,
            __param_cf_app_instance_index: '0',
            __param_cf_app_instance: `${app.guid}:0`,
            __metrics_path__: '/metrics',
            team: 'pay',
            tier: 'web',
          },
        });
        assert.ok(await h.store.get('markers/active.json'), 'sidecars are told something changed');
        const record = JSON.parse((await h.store.get(`bindings/${b}.json`))!.body);
        assert.equal(record.app_guid, app.guid);
        assert.equal(record.instance_id, i);
      });

      it('reads app, processes and routes in one parallel round of three CC calls', async () => {
        const { app } = seedApp(h, { name: 'cheap' });
        const i = id('inst');
        await provision(i);
        await p
          .put(`/v2/service_instances/${i}/service_bindings/${id('warm')}`, bindBody(h.catalog, app.guid))
          .expect(201);
        h.cc.resetRequests();
        await p
          .put(`/v2/service_instances/${i}/service_bindings/${id('bind')}`, bindBody(h.catalog, app.guid))
          .expect(201);
        const paths = h.cc.requests.map((r) => r.path).sort();
        assert.equal(paths.length, 3, JSON.stringify(paths));
        assert.ok(
          paths.every((x) => x.startsWith('/v3/')),
          'v3 only',
        );
      });

      it('repeats an identical bind with 200 and refuses different parameters with 409', async () => {
        const { app } = seedApp(h, { name: 'again' });
        const i = id('inst');
        const b = id('bind');
        await provision(i);
        await p
          .put(`/v2/service_instances/${i}/service_bindings/${b}`, bindBody(h.catalog, app.guid, { path: '/prom' }))
          .expect(201);
        const before = await h.dump();
        const again = await p
          .put(`/v2/service_instances/${i}/service_bindings/${b}`, bindBody(h.catalog, app.guid, { path: '/prom' }))
          .expect(200);
        assert.equal(again.body.credentials.status, 'active');
        const c = await p
          .put(`/v2/service_instances/${i}/service_bindings/${b}`, bindBody(h.catalog, app.guid, { path: '/other' }))
          .expect(409);
        assert.match(c.body.description, /already exists/);
        assert.deepEqual(await h.dump(), before);
      });

      it('accepts the legacy top-level app_guid', async () => {
        const { app } = seedApp(h, { name: 'legacy' });
        const i = id('inst');
        await provision(i);
        const body = { service_id: h.catalog.serviceId, plan_id: h.catalog.planId, app_guid: app.guid };
        await p.put(`/v2/service_instances/${i}/service_bindings/${id('bind')}`, body).expect(201);
      });

      it('answers a service key (no app) with 422 RequiresApp and stores nothing', async () => {
        const i = id('inst');
        await provision(i);
        const before = await h.dump();
        const res = await p
          .put(`/v2/service_instances/${i}/service_bindings/${id('key')}`, bindBody(h.catalog, undefined))
          .expect(422);
        assert.equal(res.body.error, 'RequiresApp');
        assert.match(res.body.description, /cf bind-service/);
        assert.deepEqual(await h.dump(), before);
      });

      it('refuses invalid bind parameters with 400 naming them, and an unknown instance with 404', async () => {
        const { app } = seedApp(h, { name: 'params' });
        const i = id('inst');
        await provision(i);
        const before = await h.dump();
        let res = await p
          .put(
            `/v2/service_instances/${i}/service_bindings/${id('b')}`,
            bindBody(h.catalog, app.guid, { path: 'metrics', extra: 1 }),
          )
          .expect(400);
        assert.match(res.body.description, /unknown parameter "extra"/);
        assert.match(res.body.description, /path must be an absolute URL path/);
        res = await p
          .put(`/v2/service_instances/${id('missing')}/service_bindings/${id('b')}`, bindBody(h.catalog, app.guid))
          .expect(404);
        assert.match(res.body.description, /does not exist/);
        res = await p
          .put(`/v2/service_instances/${i}/service_bindings/${id('b')}`, bindBody(h.catalog, '../../etc'))
          .expect(400);
        assert.match(res.body.description, /app_guid/);
        assert.deepEqual(await h.dump(), before);
      });

      it('tells the app team which role to grant when the broker cannot see the app, and leaves nothing', async () => {
        const org = h.cc.addOrg('secret-org');
        const space = h.cc.addSpace(org.guid, 'hidden');
        const app = h.cc.addApp({ name: 'hidden-app', spaceGuid: space.guid, instances: 1 });
        const i = id('inst');
        await provision(i);
        const before = await h.dump();
        const body = bindBody(h.catalog, app.guid);
        body.context = { ...body.context, organization_name: 'secret-org', space_name: 'hidden' };
        const res = await p.put(`/v2/service_instances/${i}/service_bindings/${id('b')}`, body).expect(400);
        assert.equal(res.body.error, 'AppNotVisible');
        assert.match(res.body.description, new RegExp(`cf set-space-role ${CF_USER} secret-org hidden SpaceAuditor`));
        assert.deepEqual(await h.dump(), before);
      });

      it('binds a stopped app without a target file and explains why in the fetched binding', async () => {
        const { app } = seedApp(h, { name: 'sleepy', state: 'STOPPED' });
        const i = id('inst');
        const b = id('bind');
        await provision(i);
        const res = await p
          .put(`/v2/service_instances/${i}/service_bindings/${b}`, bindBody(h.catalog, app.guid))
          .expect(201);
        assert.equal(res.body.credentials.status, 'inactive');
        assert.equal(await h.store.get(`active/${b}.json`), undefined);
        assert.ok(await h.store.get(`bindings/${b}.json`));
        const got = await p.get(`/v2/service_instances/${i}/service_bindings/${b}`).expect(200);
        assert.match(got.body.credentials.detail, /sleepy is stopped/);
        assert.deepEqual(got.body.parameters, {});
        assert.ok(
          h.logs.some((l) => l.includes('"level":"warn"') && l.includes('sleepy is stopped')),
          'reason logged',
        );
      });

      it('binds an app with only an internal route without targets and says so', async () => {
        const org = h.cc.addOrg('o2');
        const space = h.cc.addSpace(org.guid, 's2');
        h.cc.grantSpaceRole(CF_USER, space.guid);
        const internal = h.cc.addDomain('apps.internal', { internal: true });
        const app = h.cc.addApp({ name: 'backend', spaceGuid: space.guid, instances: 1 });
        h.cc.mapRoute(
          h.cc.addRoute({ host: 'backend', domainGuid: internal.guid, spaceGuid: space.guid }).guid,
          app.guid,
        );
        const i = id('inst');
        const b = id('bind');
        await provision(i);
        const res = await p
          .put(`/v2/service_instances/${i}/service_bindings/${b}`, bindBody(h.catalog, app.guid))
          .expect(201);
        assert.match(res.body.credentials.detail, /no public http route.*backend\.apps\.internal \(internal domain\)/);
        assert.equal(await h.store.get(`active/${b}.json`), undefined);
      });

      it('fails a bind with 503 when the CC is down, and leaves the store byte-identical', async () => {
        const { app } = seedApp(h, { name: 'down' });
        const i = id('inst');
        await provision(i);
        const before = await h.dump();
        h.cc.injectFault({ match: /^\/v3\//, status: 503, times: Infinity });
        const res = await p
          .put(`/v2/service_instances/${i}/service_bindings/${id('b')}`, bindBody(h.catalog, app.guid))
          .expect(503);
        assert.match(res.body.description, /Nothing was bound; try again/);
        assert.deepEqual(await h.dump(), before);
      });

      it('fetches a binding with its parameters and live status; unknown bindings are 404', async () => {
        const { app } = seedApp(h, { name: 'fetch' });
        const i = id('inst');
        const b = id('bind');
        await provision(i);
        await p
          .put(`/v2/service_instances/${i}/service_bindings/${b}`, bindBody(h.catalog, app.guid, { scheme: 'http' }))
          .expect(201);
        const got = await p.get(`/v2/service_instances/${i}/service_bindings/${b}`).expect(200);
        assert.deepEqual(got.body.parameters, { scheme: 'http' });
        assert.equal(got.body.credentials.targets, 2);
        await p.get(`/v2/service_instances/${i}/service_bindings/${id('nope')}`).expect(404);
        await p.get(`/v2/service_instances/${id('other')}/service_bindings/${b}`).expect(404);
      });

      it('unbinds with 200 {} from the store alone (CC down), then answers 410 {}', async () => {
        const { app } = seedApp(h, { name: 'leaving' });
        const i = id('inst');
        const b = id('bind');
        await provision(i);
        await p.put(`/v2/service_instances/${i}/service_bindings/${b}`, bindBody(h.catalog, app.guid)).expect(201);
        h.cc.injectFault({ match: /.*/, status: 503, times: Infinity });
        h.cc.resetRequests();
        const before = await h.dump();
        await p.delete(`/v2/service_instances/${i}/service_bindings/${b}`).expect(400);
        assert.deepEqual(await h.dump(), before, 'a 4xx changes nothing');
        const marker = (await h.store.get('markers/active.json'))?.etag;
        await p.delete(`/v2/service_instances/${i}/service_bindings/${b}?${deleteQuery(h.catalog)}`).expect(200, {});
        assert.notEqual((await h.store.get('markers/active.json'))?.etag, marker, 'unbind bumps the change marker');
        assert.equal(await h.store.get(`active/${b}.json`), undefined);
        assert.equal(await h.store.get(`bindings/${b}.json`), undefined);
        await p.delete(`/v2/service_instances/${i}/service_bindings/${b}?${deleteQuery(h.catalog)}`).expect(410, {});
        assert.equal(h.cc.requests.length, 0, 'unbind never calls the CC');
      });

      it('answers an unbind for a binding it never stored (orphan mitigation) with 410 {}', async () => {
        await p
          .delete(`/v2/service_instances/${id('i')}/service_bindings/${id('never')}?${deleteQuery(h.catalog)}`)
          .expect(410, {});
      });

      it('removes a target file a failed bind left without its record when CF orphan-mitigates, still answering 410 {}', async () => {
        const b = id('half-bound');
        const groups = [
          {
            targets: ['half.apps.example.com'],
            labels: { job: 'half', __param_cf_app_guid: 'g', __param_cf_app_instance_index: '0' },
          },
        ];
        await h.store.put(`active/${b}.json`, JSON.stringify(groups));
        const markerBefore = (await h.store.get('markers/active.json'))?.body;
        await p
          .delete(`/v2/service_instances/${id('i')}/service_bindings/${b}?${deleteQuery(h.catalog)}`)
          .expect(410, {});
        assert.equal(await h.store.get(`active/${b}.json`), undefined, 'the leftover target file is gone at once');
        assert.notEqual((await h.store.get('markers/active.json'))?.body, markerBefore, 'sidecars are told');
      });

      it('serialises two concurrent identical binds: one 201, one 200, one target file', async () => {
        const { app } = seedApp(h, { name: `twice-${kind}` });
        const i = id('inst');
        const b = id('bind');
        await provision(i);
        const [r1, r2] = await Promise.all(
          [1, 2].map(() => p.put(`/v2/service_instances/${i}/service_bindings/${b}`, bindBody(h.catalog, app.guid))),
        );
        assert.deepEqual([r1.status, r2.status].sort(), [200, 201]);
        assert.equal(JSON.parse((await h.store.get(`active/${b}.json`))!.body).length, 2);
      });

      it('answers last_operation polls with succeeded for what exists and 404 for what does not (410 is for asynchronous deletes)', async () => {
        const { app } = seedApp(h, { name: `poll-${kind}` });
        const i = id('inst');
        const b = id('bind');
        await provision(i);
        await p.put(`/v2/service_instances/${i}/service_bindings/${b}`, bindBody(h.catalog, app.guid)).expect(201);
        await p.get(`/v2/service_instances/${i}/last_operation`).expect(200, { state: 'succeeded' });
        await p
          .get(`/v2/service_instances/${i}/service_bindings/${b}/last_operation`)
          .expect(200, { state: 'succeeded' });
        await p.delete(`/v2/service_instances/${i}/service_bindings/${b}?${deleteQuery(h.catalog)}`).expect(200);
        const missing = async (path: string) => {
          const res = await p.get(path).expect(404);
          assert.equal(res.body.error, 'NotFound');
          assert.equal(typeof res.body.description, 'string');
        };
        await missing(`/v2/service_instances/${i}/service_bindings/${b}/last_operation`);
        await missing(`/v2/service_instances/${i}/service_bindings/${id('never')}/last_operation`);
        await missing(`/v2/service_instances/${id('never')}/last_operation`);
        await missing(`/v2/service_instances/${id('never')}/service_bindings/${id('never')}/last_operation`);
      });

      it('never writes a password or a UAA token into any log line (debug level, after every kind of operation)', async () => {
        const lines = h.logs.join('');
        assert.ok(h.logs.length > 50, 'logs were captured');
        const secrets = [BROKER_PASS, CF_PASS, ...h.cc.issuedTokens()];
        assert.ok(secrets.length >= 3);
        for (const secret of secrets)
          assert.ok(!lines.includes(secret), `a secret (${secret.slice(0, 4)}...) reached the logs`);
      });

      it('handles 20 concurrent binds of different apps and leaves 20 target files', async () => {
        const i = id('inst');
        await provision(i);
        const apps = Array.from({ length: 20 }, (_, k) => seedApp(h, { name: `many-${kind}-${k}`, instances: 1 }).app);
        const bindings = apps.map(() => id('many'));
        await Promise.all(
          apps.map((a, k) =>
            p
              .put(`/v2/service_instances/${i}/service_bindings/${bindings[k]}`, bindBody(h.catalog, a.guid))
              .expect(201),
          ),
        );
        for (const [k, b] of bindings.entries()) {
          const groups = JSON.parse((await h.store.get(`active/${b}.json`))!.body);
          assert.equal(groups[0].labels.job, `many-${kind}-${k}`);
        }
      });
    });
  });
}
