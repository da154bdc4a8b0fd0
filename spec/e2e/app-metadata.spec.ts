import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import supertest from 'supertest';
import { buildBroker } from '../../cli/broker';
import { CcEmulator } from '../../emulator';
import { loadConfig } from '../../shared/config/load';
import { silentLogger } from '../../shared/logger';
import { Syncer } from '../../shared/mirror/sync';
import { FsStore } from '../../shared/store';
import { TargetDir } from '../../sidecar/target-dir';
import { BROKER_PASS, BROKER_USER } from '../support/broker-harness';
import { INTEGRATION } from '../support/integration';
import { asPlatform, bindBody, provisionBody } from '../support/osb-client';
import { PrometheusServer, PromTarget, startPrometheus } from '../support/prometheus';

const CF_USER = 'e2e-reader';
const CF_PASS = 'e2e-reader-pw';

/**
 * App metadata through the real Prometheus (Debian 2.42; per-target `__scrape_interval__` and
 * `__scrape_timeout__` are honoured since 2.30): a bind with `scrape_interval` and an app with an
 * APP_LABELS label, rendered by the broker, mirrored by the sidecar's syncer into file_sd, read
 * by Prometheus, which reports the interval, the timeout and the label on the target.
 */
describe('end to end: app metadata and scrape_interval reach Prometheus ' + INTEGRATION, function () {
  this.timeout(90_000);
  let cc: CcEmulator;
  let prom: PrometheusServer;
  let storeDir: string;
  let dir: string;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'e2e-metadata-sd-'));
    prom = await startPrometheus(
      {
        scrapeConfigs: [
          {
            job_name: 'cf-apps',
            scrape_interval: '15s',
            scrape_timeout: '1s',
            file_sd_configs: [{ files: [`${dir}/*.json`], refresh_interval: '1s' }],
          },
        ],
      },
      this,
    );
    storeDir = await mkdtemp(join(tmpdir(), 'e2e-metadata-store-'));
    cc = new CcEmulator();
    await cc.start();
    cc.addUser(CF_USER, CF_PASS);
  });

  after(async () => {
    await prom?.stop();
    await cc?.stop();
    for (const d of [dir, storeDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('a binding with scrape_interval 30s shows scrapeInterval "30s", and the APP_LABELS label is on the target', async () => {
    const space = cc.addSpace(cc.addOrg('e2e-org').guid, 'e2e-space');
    cc.grantSpaceRole(CF_USER, space.guid);
    const domain = cc.addDomain('apps.test');
    const app = cc.addApp({ name: 'labelled', spaceGuid: space.guid, instances: 1 });
    cc.mapRoute(cc.addRoute({ host: 'labelled', domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
    cc.setAppMetadata(app.guid, {
      labels: { 'example.com/cost-center': 'cc-42', unlisted: 'no' },
      annotations: { 'prometheus.io/scrape-timeout': '5s' },
    });
    const config = loadConfig(
      {
        BROKER_USERNAME: BROKER_USER,
        BROKER_PASSWORD: BROKER_PASS,
        CF_API_URL: cc.url,
        CF_USERNAME: CF_USER,
        CF_PASSWORD: CF_PASS,
        STORE: 'fs',
        STORE_DIR: storeDir,
        APP_LABELS: 'team,example.com/cost-center',
      },
      { brokerCredentials: true, cloudController: true },
    );
    const broker = buildBroker(config, silentLogger);
    const http = asPlatform(supertest.agent(broker.app));
    const catalog = { serviceId: config.catalog.serviceId, planId: config.catalog.planId };
    await http.put('/v2/service_instances/e2e', provisionBody(catalog)).expect(201);
    await http
      .put('/v2/service_instances/e2e/service_bindings/b1', bindBody(catalog, app.guid, { scrape_interval: '30s' }))
      .expect(201);
    const syncer = new Syncer(
      new FsStore(storeDir),
      new TargetDir(dir),
      {
        fullListIntervalMs: 300_000,
        maxRemoveShare: 0.5,
        minGuardedRemovals: 3,
        downloadConcurrency: 4,
        schema: { scrape: config.rendering.scrape },
      },
      silentLogger,
    );
    await syncer.syncOnce();

    const [target] = await prom.waitFor(async () => {
      const t = (await prom.targets()).filter((x) => x.labels.job === 'labelled');
      return t.length === 1 ? t : undefined;
    }, 30_000);
    const reported = target as PromTarget & { scrapeInterval?: string; scrapeTimeout?: string };
    assert.equal(reported.scrapeInterval, '30s');
    assert.equal(reported.scrapeTimeout, '5s', 'the annotation, as the binding set no timeout');
    assert.equal(reported.labels.cost_center, 'cc-42');
    assert.equal(reported.labels.unlisted, undefined);
    assert.equal(reported.labels.__scrape_interval__, undefined, '"__" labels are gone after relabelling');
  });
});
