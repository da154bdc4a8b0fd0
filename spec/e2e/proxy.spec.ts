import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderTargets } from '../../shared/targets/render';
import type { TargetGroup } from '../../shared/targets/types';
import { MetricsApp, startMetricsApp } from '../support/metrics-app';
import { NginxProxy, requireNginx, startNginxProxy } from '../support/nginx';
import {
  deployCfAppsJob,
  PromTarget,
  PrometheusServer,
  requirePrometheus,
  startPrometheus,
} from '../support/prometheus';
import { INTEGRATION } from '../support/integration';
import { waitFor } from '../support/real-component';

/** The app domains of this test platform; the proxy's DNS stub resolves every name in them to 127.0.0.1. */
const APP_DOMAINS_REGEX = '^([a-z0-9-]+\\.)*apps\\.test$';

/** Fast intervals for the test; the cf-apps job itself comes from deploy/prometheus/prometheus.yml. */
const TEST_GLOBAL =
  'global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n';

const CHECKOUT = { guid: '7b1e3f5a-0c4d-4e2f-9a61-1f0d2c3b4a01', name: 'checkout', org: 'shop', space: 'prod' };
const PAYMENTS = { guid: '0f9d8c7b-6a5e-4d3c-8b2a-19f8e7d6c5b4', name: 'payments', org: 'shop', space: 'prod' };

/**
 * A target file written by hand, in exactly the format the broker/updater write
 * (shared/targets/render.ts; the test checks the two agree): one group per app instance.
 */
function targetFile(
  app: { guid: string; name: string; org: string; space: string },
  host: string,
  instances: number,
  metricsPath: string,
  scheme?: 'http',
): TargetGroup[] {
  return Array.from({ length: instances }, (_, i) => ({
    targets: [host],
    labels: {
      job: app.name,
      org: app.org,
      space: app.space,
      instance: `${app.guid}:${i}`,
      __param_cf_app_guid: app.guid,
      __param_cf_app_instance_index: String(i),
      __param_cf_app_instance: `${app.guid}:${i}`,
      __metrics_path__: metricsPath,
      ...(scheme ? { __param_cf_app_scheme: scheme } : {}),
    },
  }));
}

/**
 * The real Prometheus (Debian 2.42) with the cf-apps job of deploy/prometheus/prometheus.yml,
 * file_sd on a temp dir, scraping through the real nginx (Debian 1.22) running
 * deploy/nginx/forward-proxy.conf, to two test apps: `checkout` (2 instances, plain http) and
 * `payments` (1 instance, https: the proxy's default, with SNI and certificate verification).
 * Host names are real-looking (`*.apps.test`), resolved by a DNS stub the proxy's resolver uses.
 */
describe('end to end: Prometheus file_sd -> nginx forward proxy (deploy/) -> apps ' + INTEGRATION, function () {
  this.timeout(120_000);
  let dir: string;
  let checkoutApp: MetricsApp;
  let paymentsApp: MetricsApp;
  let proxy: NginxProxy;
  let prom: PrometheusServer;
  let checkoutHost: string;
  let paymentsHost: string;

  before(async function () {
    requirePrometheus(this);
    requireNginx(this);
    const started = Date.now();
    dir = await mkdtemp(join(tmpdir(), 'proxy-e2e-file-sd-'));
    checkoutApp = await startMetricsApp();
    paymentsApp = await startMetricsApp({ tls: true });
    checkoutHost = `checkout.apps.test:${checkoutApp.port}`;
    paymentsHost = `payments.apps.test:${paymentsApp.port}`;
    proxy = await startNginxProxy({ appDomainsRegex: APP_DOMAINS_REGEX, dns: { '*.apps.test': '127.0.0.1' } }, this);
    const job = await deployCfAppsJob({ targetFiles: `${dir}/*.json`, proxyUrl: proxy.url, refreshInterval: '2s' });
    prom = await startPrometheus(
      {
        configYaml: TEST_GLOBAL + job,
      },
      this,
    );
    console.log(`      nginx + Prometheus ready in ${Date.now() - started} ms`);
  });

  after(async () => {
    await prom?.stop();
    await proxy?.stop();
    await checkoutApp?.stop();
    await paymentsApp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Writes a target file the way the sidecar does: a temp name Prometheus' glob ignores, then rename. */
  async function writeTargets(name: string, content: string | TargetGroup[]): Promise<void> {
    const tmp = join(dir, `.${name}.tmp`);
    await writeFile(tmp, typeof content === 'string' ? content : JSON.stringify(content, null, 1) + '\n');
    await rename(tmp, join(dir, name));
  }
  const targetsOf = async (job: string): Promise<PromTarget[]> =>
    (await prom.targets()).filter((t) => t.labels.job === job);
  const upCount = async (job: string) => (await targetsOf(job)).filter((t) => t.health === 'up').length;

  it("writes target files in exactly the format of shared/targets/render.ts (but for the test apps' ports)", () => {
    // Production routes have no port (the schema refuses one); these files add the test apps' ports.
    const rendered = renderTargets(
      {
        guid: CHECKOUT.guid,
        name: 'checkout-venerable',
        state: 'STARTED',
        orgName: 'shop',
        spaceName: 'prod',
        instances: 2,
        routes: [{ host: 'checkout', domain: 'apps.test', path: '', protocol: 'http', internal: false }],
      },
      { scheme: 'http' },
    );
    assert.deepEqual(rendered.groups, targetFile(CHECKOUT, 'checkout.apps.test', 2, '/metrics', 'http'));
    assert.equal(checkoutHost, `checkout.apps.test:${checkoutApp.port}`);
  });

  it('discovers the files: every instance is up with job, org, space and instance labels within 30 s', async () => {
    const started = Date.now();
    await writeTargets('binding-checkout.json', targetFile(CHECKOUT, checkoutHost, 2, '/metrics', 'http'));
    await writeTargets('binding-payments.json', targetFile(PAYMENTS, paymentsHost, 1, '/internal/metrics'));
    const up = await prom.waitFor(
      async () => {
        const t = [...(await targetsOf('checkout')), ...(await targetsOf('payments'))];
        return t.length === 3 && t.every((x) => x.health === 'up') ? t : undefined;
      },
      30_000,
      'three up targets',
    );
    console.log(
      `      file written -> all targets up: ${Date.now() - started} ms (refresh_interval 2s, scrape_interval 1s)`,
    );

    const byInstance = Object.fromEntries(up.map((t) => [t.labels.instance, t]));
    assert.deepEqual(
      Object.keys(byInstance).sort(),
      [`${PAYMENTS.guid}:0`, `${CHECKOUT.guid}:0`, `${CHECKOUT.guid}:1`].sort(),
    );
    for (const [app, i] of [
      [CHECKOUT, 0],
      [CHECKOUT, 1],
      [PAYMENTS, 0],
    ] as const) {
      const t = byInstance[`${app.guid}:${i}`];
      // The stored labels: the file's job (not the job_name "cf-apps"), org, space, instance; no __param_*.
      assert.deepEqual(t.labels, { instance: `${app.guid}:${i}`, job: app.name, org: 'shop', space: 'prod' });
      assert.equal(t.scrapePool, 'cf-apps');
      assert.equal(t.discoveredLabels.__param_cf_app_instance, `${app.guid}:${i}`);
      const scrapeUrl = new URL(t.scrapeUrl);
      assert.equal(scrapeUrl.protocol, 'http:', 'Prometheus talks http to the proxy, never CONNECT');
      assert.equal(scrapeUrl.searchParams.get('cf_app_instance'), `${app.guid}:${i}`);
      assert.equal(scrapeUrl.searchParams.get('cf_app_guid'), app.guid);
    }
    // The series carry the same labels.
    const series = await prom.waitFor(
      async () => {
        const r = await prom.query('up{job=~"checkout|payments"} == 1');
        return r.length === 3 ? r : undefined;
      },
      15_000,
      'up series',
    );
    for (const s of series) assert.deepEqual([s.metric.org, s.metric.space], ['shop', 'prod']);
  });

  it('each instance is scraped with its own X-CF-APP-INSTANCE and Authorization: Bearer <guid>, without the cf_app_* parameters', async () => {
    for (const i of [0, 1]) {
      const seen = checkoutApp.requestsFor(`${CHECKOUT.guid}:${i}`);
      assert.ok(seen.length > 0, `checkout instance ${i} was scraped with its X-CF-APP-INSTANCE`);
    }
    assert.ok(paymentsApp.requestsFor(`${PAYMENTS.guid}:0`).length > 0);
    for (const [app, guid, path] of [
      [checkoutApp, CHECKOUT.guid, '/metrics'],
      [paymentsApp, PAYMENTS.guid, '/internal/metrics'],
    ] as const) {
      const scrapes = app.requests.filter((r) => r.headers['user-agent']?.startsWith('Prometheus/'));
      assert.ok(scrapes.length > 0);
      for (const r of scrapes) {
        assert.equal(r.headers.authorization, `Bearer ${guid}`);
        assert.match(String(r.headers['x-cf-app-instance']), new RegExp(`^${guid}:[01]$`));
        assert.equal(r.path, path, '__metrics_path__ is honoured');
        assert.deepEqual(r.query, {}, `query parameters dropped: ${r.url}`);
        assert.equal(r.headers['proxy-authorization'], undefined);
      }
    }
    // Per series: what the app saw (X-CF-APP-INSTANCE) is the target's instance label.
    const seen = await prom.waitFor(
      async () => {
        const r = await prom.query('demo_seen_instance{job="checkout"}');
        return r.length === 2 ? r : undefined;
      },
      15_000,
      'demo_seen_instance series',
    );
    for (const s of seen) assert.equal(s.metric.seen, s.metric.instance);
  });

  it('calls apps over https with SNI and a verified certificate unless the target says cf_app_scheme=http', async () => {
    // payments has no cf_app_scheme: https, SNI = the route's host name, certificate checked against the CA.
    const tlsScrapes = paymentsApp.requests.filter((r) => r.headers['user-agent']?.startsWith('Prometheus/'));
    assert.ok(tlsScrapes.length > 0);
    for (const r of tlsScrapes) assert.equal(r.servername, 'payments.apps.test');

    // An http-only app without cf_app_scheme=http: the proxy tries TLS and fails (502).
    const noScheme = await proxy.send(
      `http://${checkoutHost}/metrics?cf_app_guid=${CHECKOUT.guid}&cf_app_instance=${CHECKOUT.guid}%3A0&cf_app_instance_index=0`,
    );
    assert.equal(noScheme.status, 502);
    // A name the certificate (*.apps.test) does not cover, though the domain regex allows it: 502.
    const wrongName = await proxy.send(
      `http://a.b.apps.test:${paymentsApp.port}/internal/metrics?cf_app_guid=${PAYMENTS.guid}`,
    );
    assert.equal(wrongName.status, 502);
    const errors = await proxy.errorLog();
    assert.match(errors, /SSL_do_handshake\(\) failed/);
    assert.match(errors, /upstream SSL certificate does not match "a\.b\.apps\.test"/);
  });

  it('refuses (403) every request that is not for a host of the app domains: no open proxy', async () => {
    const refused = [
      proxy.send('http://evil.example.com/metrics?cf_app_guid=x&cf_app_instance_index=0'),
      proxy.send('http://169.254.169.254/latest/meta-data/'),
      proxy.send(`http://127.0.0.1:${prom.port}/api/v1/targets`),
      proxy.send('http://apps.test.evil.example.com/metrics'),
      proxy.send('http://checkout.apps.test.evil.example.com/metrics'),
      // The request line names an allowed host, the Host header another: not forwarded anywhere.
      proxy.send(`http://${checkoutHost}/metrics?cf_app_scheme=http`, { headers: { Host: `127.0.0.1:${prom.port}` } }),
      proxy.send(`http://${checkoutHost}/metrics?cf_app_scheme=http`, {
        headers: { Host: `${checkoutHost}@evil.example.com` },
      }),
      // Not a proxy request (origin-form) for an app host: the proxy is no reverse proxy either.
      proxy.send('/metrics?cf_app_scheme=http', { headers: { Host: checkoutHost } }),
      proxy.send('/metrics'),
    ];
    const before = checkoutApp.requests.length;
    for (const r of await Promise.all(refused)) {
      assert.equal(r.status, 403, r.body);
      assert.match(r.body, /forwards only to the platform's app domains/);
    }
    // Nothing reached the app (Prometheus' own scrapes aside).
    assert.ok(checkoutApp.requests.slice(before).every((r) => r.headers['user-agent']?.startsWith('Prometheus/')));
    assert.match(
      await proxy.accessLog(),
      /"GET http:\/\/evil\.example\.com\/metrics\?cf_app_guid=x&cf_app_instance_index=0 HTTP\/1\.1" host="evil\.example\.com" 403 .* forward=0 /,
    );
    assert.deepEqual(
      proxy.dnsQueries.filter((q) => q.name.includes('evil')),
      [],
      'a refused host is not even resolved',
    );
  });

  it("with the deploy file's own port rule, forwards only port-less (or :80/:443) hosts", async () => {
    // A second proxy from the same file that keeps the @APP_PORTS line as operators get it.
    const strict = await startNginxProxy({
      appDomainsRegex: APP_DOMAINS_REGEX,
      dns: { '*.apps.test': '127.0.0.1' },
      values: { APP_PORTS: (line) => line },
    });
    try {
      assert.match(strict.conf, /"~:\(80\|443\)\$" 1;/);
      const otherPort = await strict.send(`http://${checkoutHost}/metrics?cf_app_scheme=http`);
      assert.equal(otherPort.status, 403);
      // No port: forwarded (to 127.0.0.1:80, where normally nothing listens: 502; anything but 403).
      const noPort = await strict.send('http://checkout.apps.test/metrics?cf_app_scheme=http');
      assert.notEqual(noPort.status, 403);
      // nginx logs a request when it finalizes it, which can be just after the answer is sent.
      const forwarded = /host="checkout\.apps\.test" \d+ .* forward=1 .*upstream=127\.0\.0\.1:80 /;
      await waitFor(
        async () => forwarded.test(await strict.accessLog()) || undefined,
        5_000,
        'the access log line of the forwarded request',
      );
    } finally {
      await strict.stop();
    }
  });

  it("answers GET /health itself (200), but forwards an app's own /health", async () => {
    const health = await fetch(`${proxy.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');
    const own = await proxy.send(
      `http://${checkoutHost}/health?cf_app_scheme=http&cf_app_guid=${CHECKOUT.guid}&cf_app_instance=${CHECKOUT.guid}%3A1`,
    );
    assert.equal(own.status, 404, 'the app (not the proxy) answered');
    const last = checkoutApp.requests[checkoutApp.requests.length - 1];
    assert.equal(last.path, '/health');
    assert.equal(last.headers['x-cf-app-instance'], `${CHECKOUT.guid}:1`);
    assert.doesNotMatch(await proxy.accessLog(), /"GET \/health /, "the proxy's own health checks are not logged");
  });

  it('a corrupt file and a file with a bad label name leave the other targets alone (and are counted as read errors)', async () => {
    const errorsBefore = await prom.selfMetric('prometheus_sd_file_read_errors_total');
    await writeTargets('corrupt.json', '[{"targets": ["payments.apps.test:1"], "labels": ');
    await writeTargets(
      'bad-label.json',
      JSON.stringify([{ targets: ['x.apps.test:1'], labels: { 'bad-name': 'x', job: 'bad' } }]),
    );
    // Not ours (no __param_cf_app_guid): the deploy job's relabelling drops it.
    await writeTargets(
      'foreign.json',
      JSON.stringify([{ targets: [`foreign.apps.test:${checkoutApp.port}`], labels: { job: 'foreign' } }]),
    );
    // Both bad files are counted on (at least) one refresh.
    const errors = await prom.waitFor(
      async () => {
        const n = await prom.selfMetric('prometheus_sd_file_read_errors_total');
        return n >= errorsBefore + 2 ? n : undefined;
      },
      30_000,
      'prometheus_sd_file_read_errors_total to count both bad files',
    );
    await prom.waitFor(
      async () => (await prom.droppedTargets()).some((t) => t.discoveredLabels.job === 'foreign'),
      30_000,
      'the foreign target to be dropped',
    );
    console.log(
      `      prometheus_sd_file_read_errors_total: ${errorsBefore} -> ${errors} (the sidecar must keep this at 0)`,
    );
    assert.equal(await upCount('checkout'), 2);
    assert.equal(await upCount('payments'), 1);
    assert.deepEqual(await targetsOf('bad'), []);
    assert.deepEqual(await targetsOf('foreign'), []);
    assert.match(prom.logs(), /corrupt\.json/);

    // A good file that turns corrupt keeps its last good targets (until it is deleted).
    const before = await prom.selfMetric('prometheus_sd_file_read_errors_total');
    await writeTargets('binding-checkout.json', '[{"targets": ');
    await prom.waitFor(
      async () => (await prom.selfMetric('prometheus_sd_file_read_errors_total')) > before,
      30_000,
      'the corrupt rewrite to be read',
    );
    assert.equal(await upCount('checkout'), 2);
    await writeTargets('binding-checkout.json', targetFile(CHECKOUT, checkoutHost, 2, '/metrics', 'http'));
    for (const f of ['corrupt.json', 'bad-label.json', 'foreign.json']) await rm(join(dir, f));
  });

  it('removing a file removes its targets, and only those', async () => {
    const started = Date.now();
    await rm(join(dir, 'binding-payments.json'));
    await prom.waitFor(
      async () => ((await targetsOf('payments')).length === 0 ? true : undefined),
      30_000,
      'payments targets to go',
    );
    console.log(`      file removed -> targets gone: ${Date.now() - started} ms`);
    assert.equal(await upCount('checkout'), 2);
  });

  it('reloads a changed configuration on POST /-/reload and keeps the targets', async () => {
    // The same config plus a job that scrapes Prometheus itself.
    const job = await deployCfAppsJob({ targetFiles: `${dir}/*.json`, proxyUrl: proxy.url, refreshInterval: '2s' });
    await prom.reload({
      configYaml:
        TEST_GLOBAL +
        job +
        `  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:${prom.port}']\n`,
    });
    assert.equal(await prom.selfMetric('prometheus_config_last_reload_successful'), 1);
    await prom.waitFor(
      async () => ((await targetsOf('prometheus')).some((t) => t.health === 'up') ? true : undefined),
      30_000,
      'the new job up',
    );
    assert.equal(await upCount('checkout'), 2);
  });
});
