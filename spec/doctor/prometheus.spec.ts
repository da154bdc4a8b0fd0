import assert from 'node:assert/strict';
import { runDoctor } from '../../cli/doctor';
import { discoveryJobs } from '../../doctor/prometheus';
import { startFakeExporter, FakeExporter } from '../support/fake-exporter';
import { INTEGRATION } from '../support/integration';
import { deployCfAppsJob, PrometheusServer, startPrometheus } from '../support/prometheus';
import { Deployment, startDeployment } from './deployment';

/*
 * `doctor --prometheus-url` against a real Prometheus running the cf-apps job of
 * deploy/prometheus/prometheus.yml on the sidecar's directory. A fake exporter stands in for
 * the forward proxy, so every target answers.
 */
const GLOBAL = 'global:\n  scrape_interval: 2s\n  scrape_timeout: 1s\n  evaluation_interval: 2s\nscrape_configs:\n';

describe('cf-app-discovery doctor --prometheus-url ' + INTEGRATION, function () {
  this.timeout(60_000);
  let d: Deployment;
  let proxy: FakeExporter;
  let prom: PrometheusServer;
  before(async function () {
    d = await startDeployment();
    proxy = await startFakeExporter({ '/metrics': 'app_requests_total 1\n' });
    const job = await deployCfAppsJob({
      targetFiles: `${d.sidecarDir}/*.json`,
      proxyUrl: `http://${proxy.address}`,
      refreshInterval: '2s',
    });
    prom = await startPrometheus({ configYaml: GLOBAL + job }, this);
  });
  after(async () => {
    await prom?.stop();
    await proxy?.stop();
    await d?.stop();
  });

  it('finds the file_sd job reading the sidecar directory and counts its targets up', async () => {
    // Two bound apps with two instances each: four targets, up once scraped.
    const check = await prom.waitFor(
      async () => {
        const r = await runDoctor(d.env, { dir: d.sidecarDir, prometheusUrl: prom.url });
        const c = r.checks.find((x) => x.check === 'prometheus job');
        return c && /4 of 4 targets up/.test(c.found) ? c : undefined;
      },
      30_000,
      'four targets up',
    );
    assert.equal(check.verdict, 'ok');
    assert.match(check.found, /^job cf-apps \(file_sd\): 4 of 4 targets up$/);
  });

  it('fails when no job of Prometheus reads the given directory', async () => {
    const r = await runDoctor(d.env, { dir: '/srv/elsewhere', prometheusUrl: prom.url });
    const c = r.checks.find((x) => x.check === 'prometheus job')!;
    assert.equal(c.verdict, 'fail');
    assert.match(c.found, /no file_sd job reading \/srv\/elsewhere/);
    assert.match(c.advice!, /cf-apps job of deploy\/prometheus\/prometheus.yml/);
  });

  it('fails, naming the URL, when Prometheus does not answer', async () => {
    const r = await runDoctor(d.env, { prometheusUrl: 'http://127.0.0.1:1/' });
    const c = r.checks.find((x) => x.check === 'prometheus job')!;
    assert.equal(c.verdict, 'fail');
    assert.match(c.found, /^http:\/\/127\.0\.0\.1:1 could not be asked/);
  });

  it("reads the job from Prometheus' own rendering of its configuration, and an http_sd job on /targets", async () => {
    const yaml = (await prom.api<{ yaml: string }>('/api/v1/status/config')).yaml;
    assert.deepEqual(discoveryJobs(yaml), [{ job: 'cf-apps', kind: 'file_sd', sources: [`${d.sidecarDir}/*.json`] }]);
    const httpSd = yaml.replace(
      /file_sd_configs:[\s\S]*?refresh_interval: 2s\n/,
      'http_sd_configs:\n  - url: https://broker.example.com/targets\n',
    );
    assert.deepEqual(discoveryJobs(httpSd), [
      { job: 'cf-apps', kind: 'http_sd', sources: ['https://broker.example.com/targets'] },
    ]);
  });
});
