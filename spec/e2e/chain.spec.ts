import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import supertest from 'supertest';
import { buildBroker } from '../../cli/broker';
import { loadConfig } from '../../shared/config/load';
import { silentLogger } from '../../shared/logger';
import { Syncer } from '../../shared/mirror/sync';
import { S3Store } from '../../shared/store';
import { bumpActiveMarker } from '../../shared/store/marker';
import { SidecarDaemon } from '../../sidecar/daemon';
import { SidecarMetrics } from '../../sidecar/metrics';
import { TargetDir } from '../../sidecar/target-dir';
import { BROKER_PASS, BROKER_USER } from '../support/broker-harness';
import { CcEmulator } from '../../emulator';
import { startMetricsApp } from '../support/metrics-app';
import { startNginxProxy } from '../support/nginx';
import { asPlatform, bindBody, deleteQuery, provisionBody } from '../support/osb-client';
import { startPrometheus } from '../support/prometheus';
import { S3Server, startS3Server } from '../support/s3-server';
import { INTEGRATION } from '../support/integration';
import { waitFor } from '../support/real-component';

const CF_USER = 'e2e-reader';
const CF_PASS = 'e2e-reader-pw';

/**
 * The whole chain with real components: broker on s3rver -> sidecar daemon -> the Debian
 * Prometheus with file_sd -> scrapes through the real nginx config of deploy/ -> a test app
 * that records what it receives. Default sidecar interval (5 s).
 */
describe('end to end: broker -> s3 -> sidecar -> Prometheus -> nginx -> app ' + INTEGRATION, function () {
  this.timeout(120_000);
  let s3: S3Server;
  let cc: CcEmulator;
  let app: Awaited<ReturnType<typeof startMetricsApp>>;
  let proxy: Awaited<ReturnType<typeof startNginxProxy>>;
  let prom: Awaited<ReturnType<typeof startPrometheus>>;
  let daemon: SidecarDaemon;
  let sidecarMetrics: SidecarMetrics;
  let dir: string;
  let http: ReturnType<typeof asPlatform>;
  let catalog: { serviceId: string; planId: string };
  let appGuid: string;
  let store: S3Store;

  before(async function () {
    s3 = await startS3Server();
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    app = await startMetricsApp();
    // Real-looking app host names, resolved to the test app by the proxy's DNS stub.
    proxy = await startNginxProxy(
      { appDomainsRegex: '^([a-z0-9-]+\\.)*apps\\.test$', dns: { '*.apps.test': '127.0.0.1' } },
      this,
    );
    dir = await mkdtemp(join(tmpdir(), 'e2e-file-sd-'));
    prom = await startPrometheus(
      {
        scrapeConfigs: [
          {
            job_name: 'cf-apps',
            scrape_interval: '2s',
            scrape_timeout: '1s',
            proxy_url: proxy.url,
            file_sd_configs: [{ files: [`${dir}/*.json`], refresh_interval: '5s' }],
            // Target files name hosts without a port (the gorouter's 80/443); the test app listens
            // on a random port, which only this test's scrape job adds.
            relabel_configs: [
              { source_labels: ['__address__'], target_label: '__address__', replacement: `\${1}:${app.port}` },
            ],
          },
        ],
      },
      this,
    );

    cc = new CcEmulator();
    await cc.start();
    cc.addUser(CF_USER, CF_PASS);
    const space = cc.addSpace(cc.addOrg('e2e-org').guid, 'e2e-space');
    cc.grantSpaceRole(CF_USER, space.guid);
    const domain = cc.addDomain('apps.test');
    const a = cc.addApp({ name: 'e2e-app', spaceGuid: space.guid, instances: 2 });
    cc.mapRoute(cc.addRoute({ host: 'e2e-app', domainGuid: domain.guid, spaceGuid: space.guid }).guid, a.guid);
    appGuid = a.guid;

    const config = loadConfig(
      {
        BROKER_USERNAME: BROKER_USER,
        BROKER_PASSWORD: BROKER_PASS,
        CF_API_URL: cc.url,
        CF_USERNAME: CF_USER,
        CF_PASSWORD: CF_PASS,
        STORE: 's3',
        S3_BUCKET: s3.bucket,
        S3_ENDPOINT: s3.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        AWS_REGION: 'us-east-1',
      },
      { brokerCredentials: true, cloudController: true },
    );
    const broker = buildBroker(config, silentLogger);
    catalog = { serviceId: config.catalog.serviceId, planId: config.catalog.planId };
    http = asPlatform(supertest.agent(broker.app));
    store = new S3Store({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      requestTimeoutMs: 2000,
    });
    const syncer = new Syncer(
      store,
      new TargetDir(dir),
      { fullListIntervalMs: 300_000, maxRemoveShare: 0.5, minGuardedRemovals: 3, downloadConcurrency: 16 },
      silentLogger,
    );
    sidecarMetrics = new SidecarMetrics();
    daemon = new SidecarDaemon(syncer, sidecarMetrics, { intervalMs: 5000, maxBackoffMs: 10_000 }, silentLogger);
    daemon.start();
    await http.put('/v2/service_instances/e2e', provisionBody(catalog)).expect(201);
  });

  after(async () => {
    await daemon?.stop();
    await prom?.stop();
    await proxy?.stop();
    await app?.stop();
    await cc?.stop();
    await s3?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The sum of a sidecar counter over all its labels: a sync that happened leaves its mark here. */
  const sidecarCount = async (name: string) => {
    const lines = (await sidecarMetrics.registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  };
  const upTargets = async () => (await prom.targets()).filter((t) => t.labels.job === 'e2e-app' && t.health === 'up');

  it('a bind appears as up targets with the right labels; the app sees X-CF-APP-INSTANCE', async () => {
    const started = Date.now();
    await http
      .put('/v2/service_instances/e2e/service_bindings/e2e-b1', bindBody(catalog, appGuid, { scheme: 'http' }))
      .expect(201);
    const up = await prom.waitFor(async () => {
      const t = await upTargets();
      return t.length === 2 ? t : undefined;
    }, 30_000);
    const bindToUpMs = Date.now() - started;
    // Reported, not asserted (speed belongs in BENCHMARKS.md); waitFor fails the test past 30 s.
    console.log(`      bind-to-up: ${(bindToUpMs / 1000).toFixed(1)} s (sidecar interval 5 s, scrape interval 2 s)`);
    assert.deepEqual(up.map((t) => t.labels.instance).sort(), [`${appGuid}:0`, `${appGuid}:1`]);
    for (const t of up) assert.deepEqual([t.labels.org, t.labels.space], ['e2e-org', 'e2e-space']);
    const seen = new Set(app.requests.map((r) => r.headers['x-cf-app-instance']));
    assert.ok(seen.has(`${appGuid}:0`) && seen.has(`${appGuid}:1`), [...seen].join(' '));
    const last = app.requests[app.requests.length - 1];
    assert.equal(last.headers.authorization, `Bearer ${appGuid}`);
    assert.ok(!last.url.includes('cf_app'), `query parameters dropped: ${last.url}`);
  });

  it('a corrupt object, a bad label name and an escaping key never reach DIR; Prometheus reads no bad file', async () => {
    const invalidBefore = await sidecarCount('cf_app_discovery_sidecar_invalid_objects_total');
    const refusedBefore = await sidecarCount('cf_app_discovery_sidecar_refused_keys_total');
    await store.put('active/corrupt.json', '[{"targets": ["127.0.0.1:1"], "labels": ');
    await store.put('active/badlabel.json', '[{"targets": ["127.0.0.1:1"], "labels": {"bad-name": "x"}}]');
    await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'active/sub/escape.json', Body: '[]' }));
    await bumpActiveMarker(store, 'test');
    // A sidecar sync has seen all three: two objects not mirrored, one key refused.
    await waitFor(
      async () =>
        ((await sidecarCount('cf_app_discovery_sidecar_invalid_objects_total')) >= invalidBefore + 2 &&
          (await sidecarCount('cf_app_discovery_sidecar_refused_keys_total')) >= refusedBefore + 1) ||
        undefined,
      30_000,
      'a sidecar sync that refused the three objects',
    );
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.json')),
      ['e2e-b1.json'],
    );
    // Read from Prometheus' own /metrics: it does not scrape itself, so PromQL would see nothing.
    assert.equal(await prom.selfMetric('prometheus_sd_file_read_errors_total'), 0);
    assert.ok(
      (await prom.selfMetric('prometheus_sd_file_scan_duration_seconds_count')) > 0,
      'file_sd did scan the directory',
    );
    assert.equal((await upTargets()).length, 2, 'the good targets are untouched');
    for (const k of ['active/corrupt.json', 'active/badlabel.json']) await store.delete(k);
  });

  it('with the store stopped, every file stays and Prometheus keeps scraping', async () => {
    const failedBefore = await sidecarCount('cf_app_discovery_sidecar_sync_errors_total');
    await s3.halt();
    try {
      await waitFor(
        async () => (await sidecarCount('cf_app_discovery_sidecar_sync_errors_total')) > failedBefore || undefined,
        30_000,
        'a sidecar sync failing on the stopped store',
      );
      assert.deepEqual(
        (await readdir(dir)).filter((f) => f.endsWith('.json')),
        ['e2e-b1.json'],
      );
      assert.equal((await upTargets()).length, 2);
    } finally {
      await s3.restart();
    }
  });

  it('the proxy refuses hosts outside the app domains (no open proxy) and answers /health', async () => {
    const absolute = (target: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: proxy.port, method: 'GET', path: target, headers: { Host: new URL(target).host } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    assert.equal(await absolute('http://evil.example.com/metrics?cf_app_guid=x&cf_app_instance_index=0'), 403);
    assert.equal(await absolute('http://169.254.169.254/latest/meta-data/'), 403);
    assert.equal((await fetch(`${proxy.url}/health`)).status, 200);
  });

  it('an unbind removes the targets', async () => {
    await http.delete(`/v2/service_instances/e2e/service_bindings/e2e-b1?${deleteQuery(catalog)}`).expect(200);
    await prom.waitFor(
      async () => ((await prom.targets()).some((t) => t.labels.job === 'e2e-app') ? undefined : true),
      30_000,
    );
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.json')),
      [],
    );
  });
});
