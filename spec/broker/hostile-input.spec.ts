import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import supertest from 'supertest';
import { BrokerHarness, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { describeRequest, HostileRequest, hostileRequests, ROUTES, World } from '../support/hostile-input';
import { asPlatform, bindBody, provisionBody } from '../support/osb-client';

/**
 * Property: whatever a hostile client sends to any route, the broker answers 4xx with an OSB
 * error body (410 {} only where OSB wants it), writes nothing, and keeps serving.
 * FUZZ_RUNS raises the cases per route; FUZZ_SEED=<the seed a failure prints> replays it,
 * FUZZ_SEED=random explores new cases.
 */
const RUNS_PER_ROUTE = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED ?? 61_806);

describe('hostile input: every broker route refuses garbage, writes nothing and stays up', function () {
  this.timeout(300_000);
  let h: BrokerHarness;
  let server: Server;
  let http: ReturnType<typeof supertest>;
  let world: World;
  let seeded: Record<string, string>;
  const statuses = new Map<number, number>();
  let sent = 0;

  async function send(r: HostileRequest) {
    const method = r.method.toLowerCase() as 'get' | 'put' | 'patch' | 'delete' | 'post' | 'options';
    let t = http[method](r.url);
    for (const [name, value] of Object.entries(r.headers)) t = t.set(name, value);
    // Raw bytes as they are: superagent would otherwise serialise a Buffer as JSON.
    if (r.body) t = t.serialize((x: unknown) => x as string).send(r.body);
    const res = await t;
    sent++;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    return res;
  }

  function assertRefused(r: HostileRequest, res: supertest.Response) {
    const what = `${describeRequest(r)}\n  answered ${res.status} ${res.headers['content-type'] ?? ''} ${res.text?.slice(0, 300)}`;
    assert.ok(res.status >= 400 && res.status < 500, `not a 4xx:\n  ${what}`);
    const expected = new Set(r.refusals.flatMap((x) => x.statuses));
    assert.ok(expected.has(res.status), `expected ${[...expected].join(' or ')}:\n  ${what}`);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/, `not JSON:\n  ${what}`);
    if (res.status === 410) {
      assert.equal(r.method, 'DELETE', `410 is for DELETE only:\n  ${what}`);
      assert.deepEqual(res.body, {}, what);
      return;
    }
    assert.deepEqual(Object.keys(res.body).sort(), ['description', 'error'], `not an OSB error body:\n  ${what}`);
    assert.equal(typeof res.body.error, 'string', what);
    assert.ok(
      typeof res.body.description === 'string' && res.body.description.length > 0,
      `empty description:\n  ${what}`,
    );
    if (res.status === 401) assert.match(String(res.headers['www-authenticate']), /^Basic /, what);
  }

  async function restoreStore(current: Record<string, string>) {
    for (const key of Object.keys(current)) if (!(key in seeded)) await h.store.delete(key);
    for (const [key, body] of Object.entries(seeded)) if (current[key] !== body) await h.store.put(key, body);
  }

  before(async () => {
    h = await startBrokerHarness('fs');
    const org = h.cc.addOrg('my-org');
    const space = h.cc.addSpace(org.guid, 'prod');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    const domain = h.cc.addDomain('apps.example.com');
    const app = h.cc.addApp({ name: 'shop', spaceGuid: space.guid, instances: 2, state: 'STARTED' });
    const route = h.cc.addRoute({ host: 'shop', domainGuid: domain.guid, spaceGuid: space.guid });
    h.cc.mapRoute(route.guid, app.guid);
    world = { ...h.catalog, instanceId: 'fuzz-instance', bindingId: 'fuzz-binding', appGuid: app.guid };
    const p = asPlatform(h.http);
    await p
      .put(`/v2/service_instances/${world.instanceId}`, provisionBody(h.catalog, { labels: { team: 'pay' } }))
      .expect(201);
    await p
      .put(
        `/v2/service_instances/${world.instanceId}/service_bindings/${world.bindingId}`,
        bindBody(h.catalog, app.guid, { path: '/metrics', labels: { tier: 'web' } }),
      )
      .expect(201);
    seeded = await h.dump();
    assert.ok(seeded[`active/${world.bindingId}.json`], 'seeded a binding with targets');
    // One listening server for the whole run, instead of one per supertest request.
    server = h.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    http = supertest(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });

  after(async () => {
    const seen = [...statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    console.log(
      `      hostile input: ${sent.toLocaleString('en')} requests over ${ROUTES.length} routes (seed ${SEED}, ${RUNS_PER_ROUTE} cases per route), statuses seen {${seen}}`,
    );
    await new Promise((resolve) => server?.close(resolve));
    await h?.stop();
  });

  ROUTES.forEach((route) => {
    it(`refuses ${RUNS_PER_ROUTE} hostile requests to ${route} with a 4xx OSB error and an unchanged store`, async () => {
      await fc.assert(
        fc.asyncProperty(hostileRequests(route, world), async (r) => {
          const res = await send(r);
          const after = await h.dump();
          // Put the seeded store back before failing, so every case fast-check shrinks to starts
          // from the same store and the reported one is the culprit, not a later bystander.
          if (!isDeepStrictEqual(after, seeded)) await restoreStore(after);
          assertRefused(r, res);
          assert.deepEqual(after, seeded, `the store changed after:\n  ${describeRequest(r)}`);
        }),
        { numRuns: RUNS_PER_ROUTE, seed: SEED },
      );
    });
  });

  it('is still alive and unchanged afterwards: /healthz, the catalog, the seeded records, no polluted prototypes, no error logs', async () => {
    await http.get('/healthz').expect(200, { status: 'ok' });
    const p = asPlatform(http as unknown as supertest.Agent);
    const catalog = await p.get('/v2/catalog').expect(200);
    assert.equal(catalog.body.services[0].id, world.serviceId);
    const instance = await p.get(`/v2/service_instances/${world.instanceId}`).expect(200);
    assert.deepEqual(instance.body.parameters, { labels: { team: 'pay' } });
    const binding = await p
      .get(`/v2/service_instances/${world.instanceId}/service_bindings/${world.bindingId}`)
      .expect(200);
    assert.equal(binding.body.credentials.status, 'active');
    assert.deepEqual(await h.dump(), seeded);
    const probe: Record<string, unknown> = {};
    assert.equal(probe.polluted, undefined, 'Object.prototype was polluted');
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    const errors = h.logs.filter((line) => /"level":"(error|fatal)"/.test(line));
    assert.deepEqual(
      errors.map((l) => l.slice(0, 300)),
      [],
      'the broker logged errors',
    );
    assert.ok(sent >= ROUTES.length * RUNS_PER_ROUTE, `only ${sent} requests ran`);
  });
});
