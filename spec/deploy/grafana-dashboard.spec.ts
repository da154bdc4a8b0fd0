import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AppMetrics } from '../../shared/metrics';
import { SidecarMetrics } from '../../sidecar/metrics';
import { loadDashboard, productMetricNames, queryPanels } from '../support/grafana-dashboard';
import { DEPLOY_PROMETHEUS_YML } from '../support/prometheus';

/*
 * deploy/grafana/cf-app-discovery.json as operators import it: on any Grafana, against any
 * Prometheus data source, reading only metrics the processes export, and only the platform's own
 * series. spec/e2e/grafana-dashboard.spec.ts runs every query against a real Prometheus.
 */
describe('the Grafana dashboard (deploy/grafana)', () => {
  const dashboard = loadDashboard();
  const panels = queryPanels(dashboard);
  const targets = panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, ...t })));

  it('covers what operators look at, each panel with a query', () => {
    assert.ok(dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`);
    const titles = panels.map((p) => p.title);
    for (const want of [
      'OSB requests by operation and status',
      'OSB latency by operation',
      'Binds per minute',
      'CC requests by endpoint and status',
      'CC latency by endpoint',
      'Reconcile runs by outcome',
      'Reconcile duration',
      'Since the last successful reconcile',
      'Target files changed',
      'Bindings without targets by reason',
      'Follower lag',
      'Follower state',
      'Targeted reconcile runs',
      'Audit event poll failures',
      'Sidecar sync age',
      'Refused and invalid files',
      'Store errors',
    ])
      assert.ok(titles.includes(want), `a panel "${want}"`);
    const ids = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  });

  it('reads from the data source the importer picks: a variable of type prometheus, no uid or name of ours', () => {
    const ds = dashboard.templating.list.filter((v) => v.type === 'datasource');
    assert.deepEqual(
      ds.map((v) => [v.name, v.query]),
      [['datasource', 'prometheus']],
    );
    for (const p of panels) {
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
      for (const t of p.targets) assert.deepEqual(t.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
    }
    // Nowhere else a data source: an imported dashboard must not point at the author's Grafana.
    const text = JSON.stringify(dashboard);
    assert.equal(
      [...text.matchAll(/"uid":"([^"]*)"/g)].filter((m) => m[1] !== '${datasource}' && m[1] !== dashboard.uid).length,
      0,
    );
  });

  it('defaults its job variables to the job names of deploy/prometheus/prometheus.yml', () => {
    const jobs = [...readFileSync(DEPLOY_PROMETHEUS_YML, 'utf8').matchAll(/job_name: (\S+)/g)].map((m) => m[1]);
    const vars = Object.fromEntries(
      dashboard.templating.list.filter((v) => v.type !== 'datasource').map((v) => [v.name, v.current?.value]),
    );
    assert.deepEqual(vars, {
      broker_job: 'cf-app-discovery-broker',
      updater_job: 'cf-app-discovery-updater',
      sidecar_job: 'cf-app-discovery-sidecar',
    });
    for (const job of Object.values(vars)) assert.ok(jobs.includes(job!), `${job} is a job of prometheus.yml`);
  });

  it('queries only metric names the broker, updater and sidecar export', async () => {
    // Every registered metric, with or without series yet (a labelled counter has none before
    // its first event); a histogram is read as its _bucket, _sum and _count series.
    const exported = new Set<string>();
    for (const registry of [new AppMetrics().registry, new SidecarMetrics().registry])
      for (const m of await registry.getMetricsAsJSON()) {
        exported.add(m.name);
        if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(m.name + s);
      }
    for (const t of targets) {
      const names = productMetricNames(t.expr);
      assert.ok(names.length > 0 || /^up\{/.test(t.expr), `${t.panel} ${t.refId}: reads a metric of ours`);
      for (const name of names) assert.ok(exported.has(name), `${t.panel} ${t.refId}: ${name} is not exported`);
    }
  });

  it("selects every series by a platform job variable, so an app's look-alike series never show", () => {
    // Apps cannot take the platform's job names (see prometheus.yml), so a job matcher is what
    // keeps a tenant's cf_app_discovery_* or up series off this dashboard.
    for (const t of targets) {
      const selectors = [...t.expr.matchAll(/\b(cf_app_discovery_\w+|up)\b(\{[^}]*\})?/g)];
      for (const [all, , matchers = ''] of selectors)
        assert.match(
          matchers,
          /job=~"\$(broker|updater|sidecar)_job(\|\$(broker|updater|sidecar)_job)*"/,
          `${t.panel}: ${all}`,
        );
    }
  });
});
