import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BROKER_PASS, BROKER_USER, BrokerHarness, CF_USER, startBrokerHarness } from '../support/broker-harness';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';
import { startPrometheus } from '../support/prometheus';
import { INTEGRATION } from '../support/integration';

/** A real Prometheus (Debian package) discovering targets from the broker's GET /targets. */
describe('end to end: Prometheus http_sd_configs on the broker ' + INTEGRATION, function () {
  this.timeout(90_000);
  let h: BrokerHarness;
  let server: Server;
  let prom: Awaited<ReturnType<typeof startPrometheus>>;

  before(async function () {
    h = await startBrokerHarness('fs');
    server = h.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    prom = await startPrometheus(
      {
        scrapeConfigs: [
          {
            job_name: 'cf-apps',
            http_sd_configs: [
              {
                url: `http://127.0.0.1:${port}/targets`,
                refresh_interval: '2s',
                basic_auth: { username: BROKER_USER, password: BROKER_PASS },
              },
            ],
          },
        ],
      },
      this,
    );
  });
  after(async () => {
    await prom?.stop();
    server?.close();
    await h?.stop();
  });

  it('discovers bound apps with their labels, and drops them after unbind', async () => {
    const space = h.cc.addSpace(h.cc.addOrg('http-sd-org').guid, 'prod');
    h.cc.grantSpaceRole(CF_USER, space.guid);
    const app = h.cc.addApp({ name: 'catalogue', spaceGuid: space.guid, instances: 2 });
    h.cc.mapRoute(
      h.cc.addRoute({ host: 'catalogue', domainGuid: h.cc.addDomain('apps.example.com').guid, spaceGuid: space.guid })
        .guid,
      app.guid,
    );
    const p = asPlatform(h.http);
    await p.put('/v2/service_instances/sd1', provisionBody(h.catalog)).expect(201);
    await p.put('/v2/service_instances/sd1/service_bindings/sdb1', bindBody(h.catalog, app.guid)).expect(201);

    const found = await prom.waitFor(async () => {
      const t = (await prom.targets()).filter((x) => x.labels.job === 'catalogue');
      return t.length === 2 ? t : undefined;
    });
    assert.deepEqual(found.map((t) => t.labels.instance).sort(), [`${app.guid}:0`, `${app.guid}:1`]);
    assert.equal(found[0].labels.org, 'http-sd-org');
    const d = found[0].discoveredLabels;
    assert.deepEqual(
      [d.__address__, d.__metrics_path__, d.__param_cf_app_guid],
      ['catalogue.apps.example.com', '/metrics', app.guid],
    );

    await p.delete(`/v2/service_instances/sd1/service_bindings/sdb1?${deleteQuery(h.catalog)}`).expect(200);
    await prom.waitFor(async () =>
      (await prom.targets()).some((x) => x.labels.job === 'catalogue') ? undefined : true,
    );
  });
});
