import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const DIR = resolve(__dirname, '..', '..', '..', 'deploy', 'prometheus');
const PROMTOOL = '/usr/bin/promtool';

describe('alerting rules (promtool)', function () {
  this.timeout(60_000);
  before(function () {
    if (existsSync(PROMTOOL)) return;
    if (process.env.CI === 'true') throw new Error(`${PROMTOOL} is missing: .ci/run must install the Debian prometheus package`);
    console.log(`    skipping: ${PROMTOOL} not installed (apt-get install --no-install-recommends prometheus)`);
    this.skip();
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

  it('test every alert, and point every alert at a runbook section that exists', () => {
    const rules = readFileSync(join(DIR, 'alerts.yml'), 'utf8');
    const tests = readFileSync(join(DIR, 'alerts.test.yml'), 'utf8');
    const runbook = readFileSync(resolve(DIR, '..', '..', 'docs', 'runbook.md'), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^## (\S+)/gm)].map((m) => m[1].toLowerCase()));
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    assert.ok(alerts.length >= 7);
    for (const a of alerts) assert.match(tests, new RegExp(`alertname: ${a}\\n`), `${a} has no unit test`);
    for (const m of rules.matchAll(/runbook: docs\/runbook\.md#(\S+)/g)) assert.ok(anchors.has(m[1]), `runbook section #${m[1]} missing`);
  });
});
