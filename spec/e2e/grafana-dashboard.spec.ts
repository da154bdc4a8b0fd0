import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CcEmulator } from '../../emulator';
import { keepChildOutput } from '../support/child-output';
import {
  exposedNames,
  interpolate,
  loadDashboard,
  productMetricNames,
  queryPanels,
} from '../support/grafana-dashboard';
import { INTEGRATION } from '../support/integration';
import { bindBody, provisionBody } from '../support/osb-client';
import {
  DEPLOY_PROMETHEUS_YML,
  deployPrometheusConfig,
  PrometheusServer,
  requirePrometheus,
  startPrometheus,
} from '../support/prometheus';
import { freePort, waitFor } from '../support/real-component';

const CLI = resolve(__dirname, '..', '..', 'cli.js');
const ALERTS_YML = resolve(DEPLOY_PROMETHEUS_YML, '..', 'alerts.yml');
const BROKER_USER = 'cf-broker';
const BROKER_PASS = 'dashboard-test-pw-7Qx2';
const CF_USER = 'dashboard-reader';
const CF_PASS = 'dashboard-reader-pw';
/** What Grafana puts for its interval variables; 1 s scrapes give a 1 m window 60 samples. */
const INTERVALS = { __rate_interval: '1m', __interval: '15s', __range: '5m' };

/**
 * The dashboard against what it is for: a real Prometheus (Debian 2.42) running the whole of
 * deploy/prometheus/prometheus.yml (only the "# @NAME" lines filled: addresses, 1 s intervals)
 * scrapes a broker, an updater and a sidecar started as operators start them (the real CLI, fs
 * store, the CC emulator). The test does what a day of operation does (provision, binds, an app
 * stopped, a corrupt target file and an oversized record in the store), then runs every panel's
 * query as Grafana would send it: each must parse and return data.
 */
describe(
  'the Grafana dashboard against a real Prometheus scraping broker, updater and sidecar ' + INTEGRATION,
  function () {
    this.timeout(120_000);
    const children = keepChildOutput();
    const started: ChildProcess[] = [];
    let cc: CcEmulator;
    let work: string;
    let prom: PrometheusServer;
    let broker: { url: string; address: string };
    let updater: { address: string };
    let sidecar: { address: string };

    /** A `cf-app-discovery` command; resolves with the port of its first "<what> listening" line. */
    async function startCli(name: string, args: string[], env: Record<string, string>, what: string) {
      const child = children.track(
        name,
        spawn(process.execPath, [CLI, ...args], {
          env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      started.push(child);
      const port = await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`${name} exited: ${children.output(child)}`);
          const line = children
            .output(child)
            .split('\n')
            .find((l) => l.includes(`"msg":"${what}"`));
          return line ? (JSON.parse(line) as { port: number }).port : undefined;
        },
        20_000,
        `${name}: "${what}"`,
      );
      return { child, address: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` };
    }

    const auth = 'Basic ' + Buffer.from(`${BROKER_USER}:${BROKER_PASS}`).toString('base64');
    async function osb(method: string, path: string, body?: unknown): Promise<number> {
      const res = await fetch(`${broker.url}${path}`, {
        method,
        headers: { Authorization: auth, 'X-Broker-API-Version': '2.15', 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await res.arrayBuffer();
      return res.status;
    }

    before(async function () {
      requirePrometheus(this);
      work = await mkdtemp(join(tmpdir(), 'grafana-dashboard-'));
      const storeDir = join(work, 'store');
      const targetsDir = join(work, 'targets');
      const emptyDir = join(work, 'no-app-targets');
      for (const d of [storeDir, targetsDir, emptyDir]) await mkdir(d);

      cc = new CcEmulator();
      await cc.start();
      cc.addUser(CF_USER, CF_PASS);
      const space = cc.addSpace(cc.addOrg('dash-org').guid, 'dash-space');
      cc.grantSpaceRole(CF_USER, space.guid);
      const domain = cc.addDomain('apps.test');
      const apps = ['web', 'worker'].map((name) => {
        const app = cc.addApp({ name, spaceGuid: space.guid, instances: 2 });
        cc.mapRoute(cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
        return app;
      });

      const common = {
        STORE: 'fs',
        STORE_DIR: storeDir,
        CF_API_URL: cc.url,
        CF_USERNAME: CF_USER,
        CF_PASSWORD: CF_PASS,
        BROKER_USERNAME: BROKER_USER,
        BROKER_PASSWORD: BROKER_PASS,
      };
      broker = await startCli('broker', ['broker'], { ...common, PORT: '0', HOST: '127.0.0.1' }, 'broker listening');
      // A reconcile at start and every 2 s, so runs, durations and removals come within the test.
      updater = await startCli(
        'updater',
        ['updater'],
        // The follower on a 1 s poll, so the audit events of the binds and the stop below are read.
        { ...common, PORT: '0', UPDATE_SCHEDULE: '*/2 * * * * *', EVENT_POLL_SECONDS: '1' },
        'metrics listening',
      );
      sidecar = await startCli(
        'sidecar',
        ['sidecar', '--dir', targetsDir, '--metrics-port', '0'],
        { STORE: 'fs', STORE_DIR: storeDir, SYNC_INTERVAL_SECONDS: '1' },
        'metrics listening',
      );

      // What a day of operation leaves in the metrics: a provision, two binds (OSB, CC requests,
      // target files), a corrupt target file and an oversized record in the store (refused on
      // read: store "unusable" outcomes, invalid files), then an app stopped (a removal by
      // reason, a binding without targets).
      const catalog = (await (
        await fetch(`${broker.url}/v2/catalog`, { headers: { Authorization: auth, 'X-Broker-API-Version': '2.15' } })
      ).json()) as {
        services: Array<{ id: string; plans: Array<{ id: string }> }>;
      };
      const ids = { serviceId: catalog.services[0].id, planId: catalog.services[0].plans[0].id };
      assert.equal(await osb('PUT', '/v2/service_instances/dash-1', provisionBody(ids)), 201);
      for (const [i, app] of apps.entries())
        assert.equal(
          await osb('PUT', `/v2/service_instances/dash-1/service_bindings/b-${i}`, bindBody(ids, app.guid)),
          201,
        );
      await writeFile(join(storeDir, 'active', 'corrupt.json'), '[{"targets": ["x.apps.test"], "labels": ');
      await writeFile(join(storeDir, 'bindings', 'b-big.json'), `{"pad": "${'x'.repeat(300 * 1024)}"}`);
      // The broker refuses to read it (an "unusable" store outcome) and answers 500 naming the key.
      assert.equal(await osb('GET', '/v2/service_instances/dash-1/service_bindings/b-big'), 500);
      assert.equal((await fetch(`${broker.url}/targets`, { headers: { Authorization: auth } })).status, 200);
      cc.stopApp(apps[1].guid);

      const port = await freePort();
      const passwordFile = join(work, 'metrics-password');
      await writeFile(passwordFile, BROKER_PASS);
      const config = await deployPrometheusConfig({
        SCRAPE_INTERVAL: 'scrape_interval: 1s',
        SCRAPE_TIMEOUT: 'scrape_timeout: 1s',
        EVALUATION_INTERVAL: 'evaluation_interval: 1s',
        RULE_FILES: `- ${JSON.stringify(ALERTS_YML)}`,
        PROXY_URL: `proxy_url: "http://127.0.0.1:${await freePort()}"`,
        TARGET_FILES: `- ${JSON.stringify(`${emptyDir}/*.json`)}`,
        REFRESH_INTERVAL: 'refresh_interval: 1s',
        PROMETHEUS_TARGET: `- targets: ['127.0.0.1:${port}']`,
        SIDECAR_TARGET: `- targets: ['${sidecar.address}']`,
        BROKER_TARGET: `- targets: ['${broker.address}']`,
        UPDATER_TARGET: `- targets: ['${updater.address}']`,
        PLATFORM_SCHEME: 'scheme: http',
        // The broker's /metrics takes the broker's credentials when METRICS_USERNAME is unset.
        METRICS_AUTH: `basic_auth: { username: ${JSON.stringify(BROKER_USER)}, password_file: ${JSON.stringify(passwordFile)} }`,
      });
      prom = await startPrometheus({ configYaml: config, port }, this);
      await prom.waitFor(
        async () => {
          const up = (await prom.targets()).filter((t) => t.labels.job.startsWith('cf-app-discovery-'));
          return up.length === 3 && up.every((t) => t.health === 'up');
        },
        30_000,
        'broker, updater and sidecar scraped and up',
      );
    });

    after(async () => {
      for (const child of started.reverse()) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await prom?.stop();
      await cc?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('every panel query parses and returns data', async () => {
      const dashboard = loadDashboard();
      const queries = queryPanels(dashboard).flatMap((p) =>
        p.targets.map((t) => ({ what: `${p.title} (${t.refId})`, promql: interpolate(dashboard, t.expr, INTERVALS) })),
      );
      assert.ok(queries.length >= 25, `${queries.length} queries`);
      // A query that does not parse fails at once (prom.query throws on an error answer); one
      // without data is asked again until the counters it reads have moved and been scraped twice.
      const empty = new Map(queries.map((q) => [q.what, q.promql]));
      const deadline = Date.now() + 60_000;
      while (empty.size > 0 && Date.now() < deadline) {
        for (const [what, promql] of empty) {
          const result = await prom.query(promql).catch((err: Error) => {
            throw new Error(`${what} does not run: ${promql}\n${err.message}`);
          });
          if (result.length > 0) empty.delete(what);
        }
        if (empty.size > 0) await new Promise((r) => setTimeout(r, 500));
      }
      assert.deepEqual([...empty], [], 'queries that returned no series within 60 s');
    });

    it('every metric a panel reads is one the running processes expose', async () => {
      const pages = await Promise.all([
        fetch(`${broker.url}/metrics`, { headers: { Authorization: auth } }),
        fetch(`http://${updater.address}/metrics`),
        fetch(`http://${sidecar.address}/metrics`),
      ]);
      const exposed = new Set<string>();
      for (const page of pages) {
        assert.equal(page.status, 200);
        for (const name of exposedNames(await page.text())) exposed.add(name);
      }
      const dashboard = loadDashboard();
      for (const p of queryPanels(dashboard))
        for (const t of p.targets)
          for (const name of productMetricNames(t.expr)) assert.ok(exposed.has(name), `${p.title}: ${name}`);
    });
  },
);
