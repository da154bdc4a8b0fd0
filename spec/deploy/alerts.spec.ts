import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { INTEGRATION } from '../support/integration';
import { requireBinary } from '../support/real-component';

const DIR = resolve(__dirname, '..', '..', '..', 'deploy', 'prometheus');
const PROMTOOL = '/usr/bin/promtool';

describe('alerting rules (promtool) ' + INTEGRATION, function () {
  this.timeout(60_000);
  before(function () {
    requireBinary(this, PROMTOOL, 'apt-get install --no-install-recommends prometheus');
  });

  it('pass promtool check rules', () => {
    const r = spawnSync(PROMTOOL, ['check', 'rules', join(DIR, 'alerts.yml')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('pass their unit tests: each fires when it should and stays quiet when it should not', () => {
    const r = spawnSync(PROMTOOL, ['test', 'rules', 'alerts.test.yml'], { cwd: DIR, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });

  it("select the platform's series by its job names, which apps cannot take (deploy/prometheus/prometheus.yml)", () => {
    // A selector by metric name alone also matches an app exporting that name: it could silence
    // or raise the alert. Every platform metric must be narrowed to a platform job; up (app
    // targets) to app targets, which have org and space and no platform job.
    const rules = readFileSync(join(DIR, 'alerts.yml'), 'utf8');
    const exprs = [...rules.matchAll(/expr: (\|\n(?:\s{10,}.*\n)+|.*)/g)].map((m) => m[1]);
    assert.ok(exprs.length >= 8);
    const platformJob = /job(=|=~)"(cf-app-discovery-[a-z|()-]+|prometheus)"/;
    for (const expr of exprs) {
      const selectors = [...expr.matchAll(/\b(cf_app_discovery_\w+|prometheus_\w+|up)\b(\{[^}]*\})?/g)];
      assert.ok(selectors.length > 0, expr);
      for (const [all, name, matchers = ''] of selectors) {
        if (name === 'up' && /org!=""/.test(matchers))
          assert.match(matchers, /job!~"cf-app-discovery\(-\.\*\)\?\|cf-apps\|prometheus"/, all);
        else assert.match(matchers, platformJob, `${all} in: ${expr.trim()}`);
      }
    }
  });

  it('prometheus.yml passes promtool check config, which refuses unknown fields (the limit names among them)', () => {
    const r = spawnSync(PROMTOOL, ['check', 'config', join(DIR, 'prometheus.yml')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: .*prometheus\.yml is valid/);
    const config = readFileSync(join(DIR, 'prometheus.yml'), 'utf8');
    const cfApps = /# >>> cf-apps job[\s\S]*?# <<< cf-apps job/.exec(config)?.[0] ?? '';
    for (const limit of [
      'sample_limit',
      'label_limit',
      'label_name_length_limit',
      'label_value_length_limit',
      'body_size_limit',
    ]) {
      assert.match(cfApps, new RegExp(`^\\s+${limit}: \\S+`, 'm'), `the cf-apps job sets ${limit}`);
    }
    for (const job of [
      'prometheus',
      'cf-app-discovery-sidecar',
      'cf-app-discovery-broker',
      'cf-app-discovery-updater',
    ]) {
      assert.match(config, new RegExp(`^\\s+- job_name: ${job}$`, 'm'), `a ${job} job for the alerts`);
    }
  });

  it('test every alert, and point every alert at a runbook section that exists', () => {
    const rules = readFileSync(join(DIR, 'alerts.yml'), 'utf8');
    const tests = readFileSync(join(DIR, 'alerts.test.yml'), 'utf8');
    const runbook = readFileSync(resolve(DIR, '..', '..', 'docs', 'runbook.md'), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^## (\S+)/gm)].map((m) => m[1].toLowerCase()));
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    assert.ok(alerts.length >= 7);
    for (const a of alerts) assert.match(tests, new RegExp(`alertname: ${a}\\n`), `${a} has no unit test`);
    for (const m of rules.matchAll(/runbook: docs\/runbook\.md#(\S+)/g))
      assert.ok(anchors.has(m[1]), `runbook section #${m[1]} missing`);
  });
});
