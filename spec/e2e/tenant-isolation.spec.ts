import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FakeExporter, startFakeExporter } from '../support/fake-exporter';
import { NginxProxy, requireNginx, startNginxProxy, withPath } from '../support/nginx';
import {
  DEPLOY_PROMETHEUS_YML,
  deployPrometheusConfig,
  PrometheusServer,
  requirePrometheus,
  startPrometheus,
} from '../support/prometheus';
import { freePort } from '../support/real-component';
import { INTEGRATION } from '../support/integration';

const ALERTS_YML = resolve(DEPLOY_PROMETHEUS_YML, '..', 'alerts.yml');
const APP_DOMAINS_REGEX = '^([a-z0-9-]+\\.)*apps\\.test$';
const METRICS_PASSWORD = 'metrics-secret';

/** The per-scrape limits of the cf-apps job, as deploy/prometheus/prometheus.yml sets them. */
function deployLimits() {
  const job = /# >>> cf-apps job[\s\S]*?# <<< cf-apps job/.exec(readFileSync(DEPLOY_PROMETHEUS_YML, 'utf8'))?.[0] ?? '';
  const num = (name: string): number => {
    const m = new RegExp(`^\\s*${name}: (\\d+)\\s*(#.*)?$`, 'm').exec(job);
    if (!m) throw new Error(`the cf-apps job of deploy/prometheus/prometheus.yml sets no ${name}`);
    return Number(m[1]);
  };
  const body = /^\s*body_size_limit: (\d+)(B|KB|MB|GB)\s*(#.*)?$/m.exec(job);
  if (!body) throw new Error('the cf-apps job of deploy/prometheus/prometheus.yml sets no body_size_limit');
  // Prometheus reads these units as powers of 1024.
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[body[2] as 'B' | 'KB' | 'MB' | 'GB'];
  return {
    samples: num('sample_limit'),
    labels: num('label_limit'),
    nameLength: num('label_name_length_limit'),
    valueLength: num('label_value_length_limit'),
    bodyBytes: Number(body[1]) * unit,
  };
}

const ORG = 'tenant-org';
const SPACE = 'tenant-space';
/** Labels every app series gets from its target: __name__, job, instance, org, space. */
const TARGET_LABELS = 5;

interface Tenant {
  /** The job label of its target file (the app's name). */
  job: string;
  /** The job Prometheus must store it under. */
  storedJob: string;
  path: string;
  guid: string;
}

const tenant = (job: string, path: string, i: number, storedJob = job): Tenant => ({
  job,
  storedJob,
  path,
  guid: `0000000${i}-aaaa-4bbb-8ccc-dddddddddddd`,
});

/** Apps named like the platform, exporting the platform's metric names. */
const SPOOFERS = [
  tenant('cf-app-discovery-updater', '/spoof/metrics', 1, 'app-cf-app-discovery-updater'),
  tenant('prometheus', '/spoof/metrics', 2, 'app-prometheus'),
];
/** An app named like the sidecar, which is down. */
const DOWN = tenant('cf-app-discovery-sidecar', '/down/metrics', 3, 'app-cf-app-discovery-sidecar');
/** Apps beyond one of the limits each, and one exactly at all of them. */
const OVER = {
  samples: tenant('flood', '/flood/metrics', 4),
  labels: tenant('many-labels', '/many-labels/metrics', 5),
  nameLength: tenant('long-name', '/long-name/metrics', 6),
  valueLength: tenant('long-value', '/long-value/metrics', 7),
  bodyBytes: tenant('big-body', '/big-body/metrics', 8),
};
const AT_LIMITS = tenant('at-limits', '/at-limits/metrics', 9);
const TENANTS = [...SPOOFERS, DOWN, ...Object.values(OVER), AT_LIMITS];

/** The series Prometheus writes itself for every target (2.42 without --enable-feature=extra-scrape-metrics). */
const PER_TARGET = [
  'scrape_duration_seconds',
  'scrape_samples_post_metric_relabeling',
  'scrape_samples_scraped',
  'scrape_series_added',
  'up',
];

/** What a hostile app exports: the platform's names with values that would silence or raise its alerts. */
function spoofPage(scrape: () => number): () => string {
  return () => {
    const n = scrape();
    const now = Math.floor(Date.now() / 1000);
    return [
      `cf_app_discovery_reconcile_last_success_timestamp_seconds ${now}`,
      `cf_app_discovery_reconcile_runs_total{outcome="success"} ${n}`,
      'cf_app_discovery_sidecar_last_success_timestamp_seconds{job="cf-app-discovery-sidecar",instance="127.0.0.1:9477"} 0',
      `cf_app_discovery_osb_requests_total{operation="bind",status="500"} ${1000 * n}`,
      `cf_app_discovery_cc_requests_total{endpoint="/v3/apps",status="429"} ${1000 * n}`,
      'prometheus_sd_discovered_targets{config="cf-apps",name="scrape"} 5',
      'up{job="cf-app-discovery-sidecar",instance="127.0.0.1:9477"} 0',
      'up 1',
      'scrape_samples_scraped 1',
      'ALERTS{alertname="CfAppDiscoveryNoTargets",alertstate="firing",severity="page"} 1',
      'ALERTS_FOR_STATE{alertname="CfAppDiscoveryReconcileNotSucceeding",severity="ticket"} 1',
      `spoof_app_requests_total ${n}`,
      '',
    ].join('\n');
  };
}

/** Pages just beyond each limit, and one exactly at all of them. */
function limitPages(l: ReturnType<typeof deployLimits>): Record<string, string> {
  const series = (name: string, count: number) =>
    Array.from({ length: count }, (_, i) => `${name}{n="${i}"} 1\n`).join('');
  const labels = (count: number) => Array.from({ length: count }, (_, i) => `l${i}="x"`).join(',');
  const ownLabels = l.labels - TARGET_LABELS;
  const atLimits =
    series('at_limits_series', l.samples - 1) +
    // The one series with the most labels, the longest name and the longest value allowed.
    `at_limits_edge{${labels(ownLabels - 2)},${'n'.repeat(l.nameLength)}="x",v="${'v'.repeat(l.valueLength)}"} 1\n`;
  // One series and comment lines of 4 KiB, 1 KiB beyond the limit in all.
  const comment = `# ${'x'.repeat(4093)}\n`;
  const bigBody = 'big_body_series 1\n' + comment.repeat(Math.ceil((l.bodyBytes + 1024) / comment.length));
  return {
    [OVER.samples.path]: series('flood_series', l.samples + 1),
    [OVER.labels.path]: `many_labels_series{${labels(ownLabels + 1)}} 1\n`,
    [OVER.nameLength.path]: `long_name_series{${'n'.repeat(l.nameLength + 1)}="x"} 1\n`,
    [OVER.valueLength.path]: `long_value_series{v="${'v'.repeat(l.valueLength + 1)}"} 1\n`,
    [OVER.bodyBytes.path]: bigBody,
    [AT_LIMITS.path]: atLimits,
  };
}

/**
 * Tenants and the platform in one real Prometheus (Debian 2.42) running the whole of
 * deploy/prometheus/prometheus.yml and alerts.yml (only the "# @NAME" lines replaced: addresses,
 * paths, 1-2 s intervals). App targets come through file_sd and the real nginx running
 * deploy/nginx/forward-proxy.conf; the platform's broker, updater and sidecar are fake exporters
 * in their jobs (the broker's and updater's behind the deploy file's basic auth).
 */
describe(
  "end to end: tenants cannot reach the platform's alerts or exhaust Prometheus (deploy/prometheus) " + INTEGRATION,
  function () {
    this.timeout(180_000);
    let limits: ReturnType<typeof deployLimits>;
    let dir: string;
    let apps: FakeExporter;
    let updater: FakeExporter;
    let broker: FakeExporter;
    let sidecar: FakeExporter;
    let proxy: NginxProxy;
    let prom: PrometheusServer;
    let spoofScrapes = 0;

    before(async function () {
      requirePrometheus(this);
      requireNginx(this);
      limits = deployLimits();
      dir = await mkdtemp(join(tmpdir(), 'tenant-isolation-'));
      const targetsDir = join(dir, 'targets');
      const passwordFile = join(dir, 'metrics-password');
      await writeFile(passwordFile, METRICS_PASSWORD);

      apps = await startFakeExporter(
        { '/spoof/metrics': spoofPage(() => ++spoofScrapes), ...limitPages(limits) },
        { failing: { '/down/metrics': 503 } },
      );
      const auth = `METRICS_USERNAME:${METRICS_PASSWORD}`;
      // The updater last succeeded an hour ago: CfAppDiscoveryReconcileNotSucceeding must see it.
      let runs = 0;
      updater = await startFakeExporter(
        {
          '/metrics': () =>
            `cf_app_discovery_reconcile_last_success_timestamp_seconds ${Math.floor(Date.now() / 1000) - 3600}\n` +
            `cf_app_discovery_reconcile_runs_total{outcome="failure"} ${++runs}\n` +
            'cf_app_discovery_cc_requests_total{endpoint="/v3/apps",status="200"} 10\n',
        },
        { auth },
      );
      // A healthy broker (it never reconciled itself: prom-client reports the gauge as 0) and sidecar.
      let requests = 0;
      broker = await startFakeExporter(
        {
          '/metrics': () =>
            'cf_app_discovery_reconcile_last_success_timestamp_seconds 0\n' +
            `cf_app_discovery_osb_requests_total{operation="bind",status="201"} ${(requests += 10)}\n`,
        },
        { auth },
      );
      sidecar = await startFakeExporter({
        '/metrics': () => `cf_app_discovery_sidecar_last_success_timestamp_seconds ${Math.floor(Date.now() / 1000)}\n`,
      });

      await mkdir(targetsDir);
      for (const t of TENANTS) await writeTargets(targetsDir, t);

      proxy = await startNginxProxy({ appDomainsRegex: APP_DOMAINS_REGEX, dns: { '*.apps.test': '127.0.0.1' } }, this);
      const port = await freePort();
      const config = await deployPrometheusConfig({
        // 2 s: room for the 10 MiB page through the proxy on a busy machine, so the scrape ends at the body limit, not the timeout.
        SCRAPE_INTERVAL: 'scrape_interval: 2s',
        SCRAPE_TIMEOUT: 'scrape_timeout: 2s',
        EVALUATION_INTERVAL: 'evaluation_interval: 1s',
        RULE_FILES: `- ${JSON.stringify(ALERTS_YML)}`,
        PROXY_URL: `proxy_url: ${JSON.stringify(proxy.url)}`,
        TARGET_FILES: `- ${JSON.stringify(`${targetsDir}/*.json`)}`,
        REFRESH_INTERVAL: 'refresh_interval: 2s',
        PROMETHEUS_TARGET: `- targets: ['127.0.0.1:${port}']`,
        SIDECAR_TARGET: `- targets: ['${sidecar.address}']`,
        BROKER_TARGET: `- targets: ['${broker.address}']`,
        UPDATER_TARGET: `- targets: ['${updater.address}']`,
        PLATFORM_SCHEME: 'scheme: http',
        METRICS_AUTH: withPath(passwordFile),
      });
      prom = await startPrometheus({ configYaml: config, port }, this);
    });

    after(async () => {
      await prom?.stop();
      await proxy?.stop();
      for (const s of [apps, updater, broker, sidecar]) await s?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A target file as the sidecar writes it (temp name, rename), for one app instance. */
    async function writeTargets(targetsDir: string, t: Tenant): Promise<void> {
      const group = [
        {
          targets: [`${t.job.replace(/[^a-z0-9-]/g, '')}.apps.test:${apps.port}`],
          labels: {
            job: t.job,
            org: ORG,
            space: SPACE,
            instance: `${t.guid}:0`,
            __param_cf_app_guid: t.guid,
            __param_cf_app_instance_index: '0',
            __param_cf_app_instance: `${t.guid}:0`,
            __param_cf_app_scheme: 'http',
            __metrics_path__: t.path,
          },
        },
      ];
      const name = `binding-${t.guid}.json`;
      await writeFile(join(targetsDir, `.${name}.tmp`), JSON.stringify(group));
      await rename(join(targetsDir, `.${name}.tmp`), join(targetsDir, name));
    }

    interface ActiveAlert {
      labels: Record<string, string>;
      state: 'pending' | 'firing';
    }
    const alerts = async () => (await prom.api<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts;
    const named = async (name: string) => (await alerts()).filter((a) => a.labels.alertname === name);
    const series = async (match: string) =>
      prom.api<Array<Record<string, string>>>(`/api/v1/series?match[]=${encodeURIComponent(match)}`);

    /**
     * Waits until every target has been scraped `n` times after now and every rule evaluated after
     * that: the alerts then reflect at least n - 1 samples of everything (rate() needs two).
     */
    async function settled(n = 3): Promise<void> {
      for (let i = 1; i <= n; i++) {
        const since = Date.now();
        await prom.waitFor(
          async () => {
            const targets = await prom.targets();
            // The apps, and Prometheus, sidecar, broker and updater.
            return targets.length === TENANTS.length + 4 && targets.every((t) => Date.parse(t.lastScrape) > since)
              ? true
              : undefined;
          },
          60_000,
          `every target scraped (${i} of ${n})`,
        );
      }
      const after = Date.now();
      await prom.waitFor(
        async () => {
          const { groups } = await prom.api<{ groups: Array<{ rules: Array<{ lastEvaluation: string }> }> }>(
            '/api/v1/rules',
          );
          return groups.flatMap((g) => g.rules).every((r) => Date.parse(r.lastEvaluation) > after) ? true : undefined;
        },
        30_000,
        'every rule evaluated',
      );
    }

    it("scrapes an app named like a platform job as app-<name>; the platform jobs hold only the platform's targets", async () => {
      await settled();
      const targets = await prom.targets();
      for (const t of TENANTS) {
        const mine = targets.filter((x) => x.labels.instance === `${t.guid}:0`);
        assert.equal(mine.length, 1, `${t.job} is a target`);
        assert.deepEqual(mine[0].labels, { job: t.storedJob, instance: `${t.guid}:0`, org: ORG, space: SPACE });
        assert.equal(mine[0].scrapePool, 'cf-apps');
      }
      const platform = {
        prometheus: `127.0.0.1:${prom.port}`,
        'cf-app-discovery-sidecar': sidecar.address,
        'cf-app-discovery-broker': broker.address,
        'cf-app-discovery-updater': updater.address,
      };
      for (const [job, address] of Object.entries(platform)) {
        const up = await prom.query(`up{job="${job}"}`);
        assert.deepEqual(
          up.map((s) => [s.metric.instance, s.value[1]]),
          [[address, '1']],
          `${job}: its own target only, and up`,
        );
      }
      assert.ok(spoofScrapes >= 2, 'the spoofing apps were scraped');
    });

    it('stores none of the platform metric names an app exports: each app has only its own series and the ones Prometheus writes for it', async () => {
      const platformNamed = await series(
        '{__name__=~"cf_app_discovery_.+|prometheus_.+|ALERTS|ALERTS_FOR_STATE", org!=""}',
      );
      const ruleOutput = (s: Record<string, string>) => /^ALERTS(_FOR_STATE)?$/.test(s.__name__);
      assert.deepEqual(
        platformNamed.filter((s) => !ruleOutput(s)),
        [],
        "no platform metric name carries an app target's labels",
      );
      // ALERTS* with org are CfAppTargetDown's own (for the apps that are down), never an app's export.
      for (const s of platformNamed)
        assert.deepEqual([s.alertname, s.exported_job], ['CfAppTargetDown', undefined], JSON.stringify(s));

      for (const t of SPOOFERS) {
        const stored = await series(`{job="${t.storedJob}"}`);
        assert.deepEqual(
          [...new Set(stored.map((s) => s.__name__))].sort(),
          [...PER_TARGET, 'spoof_app_requests_total'].sort(),
        );
        for (const s of stored) {
          assert.deepEqual(
            Object.keys(s).sort(),
            ['__name__', 'instance', 'job', 'org', 'space'],
            `${s.__name__}: no exported_* labels, no second copy`,
          );
        }
      }
      const onPlatformJobs = await series('{job=~"cf-app-discovery(-.*)?|cf-apps|prometheus", org!=""}');
      assert.deepEqual(onPlatformJobs, [], "no series on a platform job carries an app target's labels");
    });

    it('the stale updater raises CfAppDiscoveryReconcileNotSucceeding though apps export a fresh timestamp; no other platform alert is raised or hidden', async () => {
      await settled();
      const active = await alerts();
      const byName = (name: string) => active.filter((a) => a.labels.alertname === name);
      // `for: 5m` keeps it pending here; firing after 5 minutes is covered by alerts.test.yml.
      assert.deepEqual(
        byName('CfAppDiscoveryReconcileNotSucceeding').map((a) => a.state),
        ['pending'],
      );
      // Only the apps that are down are app targets down: the app named like the sidecar among them.
      const down = [DOWN, ...Object.values(OVER)].map((t) => t.storedJob).sort();
      assert.deepEqual(
        byName('CfAppTargetDown')
          .map((a) => a.labels.job)
          .sort(),
        down,
      );
      // The apps' spoofed down sidecar, stale sidecar, broker 5xx, CC 429s and discovered targets raise nothing.
      assert.deepEqual([...new Set(active.map((a) => a.labels.alertname))].sort(), [
        'CfAppDiscoveryReconcileNotSucceeding',
        'CfAppTargetDown',
      ]);
    });

    it('with the updater gone, absent() raises CfAppDiscoveryReconcileNotRunning though apps still export its counter', async () => {
      assert.deepEqual(await named('CfAppDiscoveryReconcileNotRunning'), []);
      await updater.stop();
      const pending = await prom.waitFor(
        async () => {
          const a = await named('CfAppDiscoveryReconcileNotRunning');
          return a.length ? a : undefined;
        },
        30_000,
        'CfAppDiscoveryReconcileNotRunning to be pending',
      );
      assert.deepEqual(
        pending.map((a) => a.state),
        ['pending'],
      );
      assert.ok(
        spoofScrapes > 0 &&
          (await prom.targets()).filter((t) => t.labels.job.startsWith('app-') && t.health === 'up').length ===
            SPOOFERS.length,
        'the spoofing apps are still up and exporting',
      );
    });

    it('an app instance beyond any per-scrape limit of the cf-apps job is down with the limit named, and none of its series is stored', async () => {
      console.log(
        `      limits: ${limits.samples} samples, ${limits.labels} labels, names of ${limits.nameLength}, values of ${limits.valueLength}, ${limits.bodyBytes} bytes`,
      );
      const errors: Record<keyof typeof OVER, RegExp> = {
        samples: /sample limit exceeded/,
        labels: /label_limit exceeded/,
        nameLength: /label_name_length_limit exceeded/,
        valueLength: /label_value_length_limit exceeded/,
        bodyBytes: /body size limit exceeded/,
      };
      const targets = await prom.targets();
      for (const [limit, t] of Object.entries(OVER) as Array<[keyof typeof OVER, Tenant]>) {
        const target = targets.find((x) => x.labels.job === t.storedJob);
        assert.equal(target?.health, 'down', `${t.job}: down`);
        assert.match(target.lastError, errors[limit]);
        assert.equal(await prom.value(`up{job="${t.storedJob}"}`), 0);
        const own = await series(`{job="${t.storedJob}", __name__!~"up|scrape_.+|ALERTS|ALERTS_FOR_STATE"}`);
        assert.deepEqual(own, [], `${t.job}: none of its series stored`);
      }
      assert.equal(await prom.value(`scrape_samples_scraped{job="${OVER.samples.storedJob}"}`), limits.samples + 1);
    });

    it('an app instance exactly at every limit is up and stored whole', async () => {
      const target = (await prom.targets()).find((x) => x.labels.job === AT_LIMITS.storedJob);
      assert.equal(target?.health, 'up', target?.lastError);
      assert.equal(await prom.value(`count({job="${AT_LIMITS.storedJob}", __name__=~"at_limits_.+"})`), limits.samples);
      const [edge] = await prom.query(`at_limits_edge{job="${AT_LIMITS.storedJob}"}`);
      assert.equal(Object.keys(edge.metric).length, limits.labels);
    });
  },
);
