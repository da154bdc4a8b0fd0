import assert from 'node:assert/strict';
import { BROKER_PASS, BROKER_USER, BrokerHarness, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, provisionBody } from '../support/osb-client';

describe('broker transport: auth, API version, identity, bodies, ids', () => {
  let h: BrokerHarness;
  before(async () => {
    h = await startBrokerHarness('fs');
  });
  after(async () => h?.stop());

  it('answers /healthz without credentials', async () => {
    const res = await h.http.get('/healthz').expect(200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  it('refuses a missing or wrong password with 401 and an OSB error body', async () => {
    for (const req of [
      h.http.get('/v2/catalog').set('X-Broker-API-Version', '2.15'),
      h.http.get('/v2/catalog').set('X-Broker-API-Version', '2.15').auth(BROKER_USER, 'wrong'),
      h.http.get('/v2/catalog').set('X-Broker-API-Version', '2.15').auth('someone', BROKER_PASS),
      h.http.get('/v2/catalog').set('X-Broker-API-Version', '2.15').set('Authorization', 'Bearer abc'),
    ]) {
      const res = await req.expect(401);
      assert.equal(res.body.error, 'Unauthorized');
      assert.match(res.body.description, /broker credentials/);
      assert.match(res.headers['www-authenticate'], /^Basic/);
    }
  });

  it('needs X-Broker-API-Version 2.13 or later 2.x, and accepts what CF sends (2.15) and 2.17', async () => {
    const base = () => h.http.get('/v2/catalog').auth(BROKER_USER, BROKER_PASS);
    let res = await base().expect(412);
    assert.match(res.body.description, /no X-Broker-API-Version header/);
    res = await base().set('X-Broker-API-Version', '2.12').expect(412);
    assert.match(res.body.description, /2\.13 or later/);
    await base().set('X-Broker-API-Version', '3.0').expect(412);
    await base().set('X-Broker-API-Version', '2.15').expect(200);
    await base().set('X-Broker-API-Version', '2.17').expect(200);
  });

  it('echoes X-Broker-API-Request-Identity', async () => {
    const res = await asPlatform(h.http).get('/v2/catalog').expect(200);
    assert.equal(res.headers['x-broker-api-request-identity'], 'e26cfe4d-3f2c-4f3c-8c8e-1d1c2f3a4b5c');
  });

  it('publishes a catalog CF accepts: one bindable, retrievable service with a draft-04 binding schema', async () => {
    const res = await asPlatform(h.http).get('/v2/catalog').expect(200);
    const [service] = res.body.services;
    assert.equal(res.body.services.length, 1);
    assert.equal(service.name, 'prometheus');
    assert.equal(service.id, h.catalog.serviceId);
    assert.equal(service.bindable, true);
    assert.equal(service.instances_retrievable, true);
    assert.equal(service.bindings_retrievable, true);
    assert.equal(service.plans[0].id, h.catalog.planId);
    assert.equal(service.plans[0].name, 'default');
    const schema = service.plans[0].schemas.service_binding.create.parameters;
    assert.equal(schema.$schema, 'http://json-schema.org/draft-04/schema#');
    assert.ok(Buffer.byteLength(JSON.stringify(schema)) < 64 * 1024);
    assert.deepEqual(Object.keys(schema.properties).sort(), [
      'labels',
      'path',
      'scheme',
      'scrape_interval',
      'scrape_timeout',
    ]);
  });

  it('answers malformed JSON, a non-object body and a wrong content type with 400', async () => {
    const p = asPlatform(h.http);
    let res = await p
      .put('/v2/service_instances/i-1', '{"service_id": ')
      .set('Content-Type', 'application/json')
      .expect(400);
    assert.equal(res.body.error, 'BadRequest');
    assert.match(res.body.description, /not valid JSON/);
    res = await p.put('/v2/service_instances/i-1', '[1,2]').set('Content-Type', 'application/json').expect(400);
    assert.match(res.body.description, /JSON object/);
    res = await p.put('/v2/service_instances/i-1', 'service_id=x').set('Content-Type', 'text/plain').expect(400);
    assert.match(res.body.description, /Content-Type: application\/json/);
    assert.deepEqual(await h.dump(), {});
  });

  it('refuses context or parameters nested past 32 levels with 400 (not a stack overflow), storing nothing; 32 levels are fine', async () => {
    const nest = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    const put = (path: string, body: string) =>
      h.http
        .put(path)
        .auth(BROKER_USER, BROKER_PASS)
        .set('X-Broker-API-Version', '2.15')
        .set('Content-Type', 'application/json')
        .send(body);
    const before = await h.dump();
    for (const [field, levels] of [
      ['context', 5_000],
      ['parameters', 5_000],
      ['context', 32],
    ] as const) {
      // body { field: <levels> } is levels + 1 deep; written as text, as an attacker would.
      const body = `{"service_id":"${h.catalog.serviceId}","plan_id":"${h.catalog.planId}","organization_guid":"o","space_guid":"s","${field}":${nest(levels)}}`;
      const res = await put('/v2/service_instances/too-deep', body).expect(400);
      assert.equal(res.body.error, 'BadRequest');
      assert.match(res.body.description, /nests JSON more than 32 levels deep/);
    }
    assert.deepEqual(await h.dump(), before);
    const fine = `{"service_id":"${h.catalog.serviceId}","plan_id":"${h.catalog.planId}","organization_guid":"o","space_guid":"s","context":${nest(31)}}`;
    await put('/v2/service_instances/deep-enough', fine).expect(201);
    await h.store.delete('instances/deep-enough.json');
  });

  it('answers a body over 64 KiB with 413 and stores nothing', async () => {
    const big = provisionBody(h.catalog, { labels: { a: 'x'.repeat(70 * 1024) } });
    const res = await asPlatform(h.http).put('/v2/service_instances/big-1', big).expect(413);
    assert.equal(res.body.error, 'PayloadTooLarge');
    assert.deepEqual(await h.dump(), {});
  });

  it('refuses unsafe ids in paths with 400 before they reach the store', async () => {
    const p = asPlatform(h.http);
    const bad = ['..%2F..%2Fetc%2Fpasswd', '..', 'a%2Fb', 'a%00b', 'x'.repeat(300), '.hidden', 'a%5Cb', '%20'];
    for (const id of bad) {
      const res = await p.put(`/v2/service_instances/${id}`, provisionBody(h.catalog)).expect(400);
      assert.equal(res.body.error, 'BadRequest', id);
      assert.match(res.body.description, /service instance id in the URL/, id);
      await p.put(`/v2/service_instances/ok-1/service_bindings/${id}`, {}).expect(400);
      await p.delete(`/v2/service_instances/${id}?service_id=a&plan_id=b`).expect(400);
    }
    assert.deepEqual(await h.dump(), {});
  });

  it('answers an unknown endpoint with 404 in the OSB error shape', async () => {
    const res = await asPlatform(h.http).get('/v2/service_instances/a/last_operation_nope/x').expect(404);
    assert.equal(res.body.error, 'NotFound');
  });

  it('logs the originating user id, and never the broker or CF passwords', async () => {
    const identity =
      'cloudfoundry ' +
      Buffer.from(JSON.stringify({ user_id: '683ea748-3092-4ff4-b656-39cacc4d5360' })).toString('base64');
    await asPlatform(h.http)
      .put('/v2/service_instances/logged-1', provisionBody(h.catalog))
      .set('X-Broker-API-Originating-Identity', identity)
      .expect(201);
    const lines = h.logs.join('');
    assert.match(lines, /"userId":"683ea748-3092-4ff4-b656-39cacc4d5360"/);
    assert.ok(!lines.includes(BROKER_PASS), 'broker password in logs');
    assert.ok(!lines.includes('cf-user-secret-pw'), 'CF password in logs');
    for (const line of h.logs) JSON.parse(line);
    const access = h.logs
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'request' && l.path === '/v2/service_instances/logged-1');
    assert.equal(access?.status, 201);
    assert.equal(access?.method, 'PUT');
    assert.equal(typeof access?.ms, 'number');
    assert.equal(access?.operation, 'provision');
    assert.equal(access?.outcome, 'success');
    assert.equal(access?.instanceId, 'logged-1');
    assert.equal(access?.userId, '683ea748-3092-4ff4-b656-39cacc4d5360');
  });
});
