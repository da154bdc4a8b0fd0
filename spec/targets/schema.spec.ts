import assert from 'node:assert/strict';
import fc from 'fast-check';
import { serializeTargetFile } from '../../shared/targets/file';
import { CONTROL_CHARACTER_REGEX, extraLabelProblem, MAX_EXTRA_LABELS } from '../../shared/targets/labels';
import { targetOptions } from '../../shared/targets/options';
import { bindingParametersProblem, instanceParametersProblem } from '../../shared/targets/parameters-schema';
import { jobName, renderTargets, RESERVED_JOB_REGEX } from '../../shared/targets/render';
import { MAX_TARGET_FILE_BYTES, MAX_TARGET_GROUPS, MAX_USER_LABELS, targetFileProblem, targetFileWriteProblem, targetGroupsProblem } from '../../shared/targets/schema';
import type { AppRoute, AppSnapshot, TargetGroup } from '../../shared/targets/types';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const GUID = '0b7d4f3e-1c2a-4b5c-9d8e-7f6a5b4c3d2e';

// ---- what the Cloud Controller can describe (names of at most 255 characters without control characters, DNS routes) ----
const noControl = (s: string) => !CONTROL_CHARACTER_REGEX.test(s);
const ccName = (minLength: number) => fc.oneof(
  fc.string({ unit: 'binary', minLength, maxLength: 255 }).filter(noControl),
  fc.string({ unit: 'grapheme-ascii', minLength, maxLength: 40 }).filter(noControl),
  fc.constantFrom('prometheus', 'cf-apps', 'cf-app-discovery', 'cf-app-discovery-broker', 'prometheus-venerable', 'cf-apps-venerable', '-venerable', 'shop-venerable'),
);
const dnsLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
const domain = fc.array(dnsLabel, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const segment = fc.stringMatching(/^[A-Za-z0-9_~-]{1,12}$/);
const path = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join('/')}`);
const route: fc.Arbitrary<AppRoute> = fc.record({
  host: fc.oneof(dnsLabel, fc.constant(''), fc.constant('*'), fc.constant('under_score')),
  domain: fc.oneof(domain, fc.constant('apps.example.com:8443')),
  path: fc.oneof(fc.constant(''), path, path.map((p) => `${p}/metrics`), fc.constant('/trailing/'), fc.constant('/sp ace')),
  protocol: fc.constantFrom('http', 'http', 'tcp'),
  internal: fc.boolean(),
});
const usableRoute: fc.Arbitrary<AppRoute> = fc.record({
  host: fc.oneof(dnsLabel, fc.constant('')),
  domain,
  path: fc.oneof(fc.constant(''), path, path.map((p) => `${p}/metrics`)),
  protocol: fc.constant('http'),
  internal: fc.constant(false),
});
const snapshot: fc.Arbitrary<AppSnapshot> = fc.record({
  guid: fc.uuid(),
  name: ccName(1),
  state: fc.constantFrom('STARTED', 'STARTED', 'STARTED', 'STOPPED'),
  orgName: ccName(0),
  spaceName: ccName(0),
  instances: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 12 }), weight: 20 }, { arbitrary: fc.constant(MAX_TARGET_GROUPS), weight: 1 }),
  routes: fc.oneof(fc.array(route, { maxLength: 4 }), fc.tuple(fc.array(route, { maxLength: 3 }), usableRoute).map(([others, usable]) => [...others, usable])),
});
const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,30}$/);
const labelValue = fc.oneof(fc.string({ unit: 'binary', maxLength: 256 }), fc.string({ maxLength: 20 }));
const labels = fc.dictionary(labelName, labelValue, { maxKeys: MAX_EXTRA_LABELS });
// Only what the published parameter schemas accept reaches a record (and records are checked again on read).
const bindParameters = fc.record({ path, scheme: fc.constantFrom('http', 'https'), labels }, { requiredKeys: [] })
  .filter((p) => bindingParametersProblem(p) === undefined);
const instanceParameters = fc.record({ labels }, { requiredKeys: [] }).filter((p) => instanceParametersProblem(p) === undefined);

// ---- one valid file to tamper with ----
const route0: AppRoute = { host: 'my-app', domain: 'apps.example.com', path: '', protocol: 'http', internal: false };
const app0: AppSnapshot = { guid: GUID, name: 'my-app', state: 'STARTED', orgName: 'my-org', spaceName: 'prod', instances: 3, routes: [route0] };
const valid = (): TargetGroup[] => renderTargets(app0, { scheme: 'http', labels: { team: 'pay' } }).groups;
const tampered = (change: (groups: TargetGroup[]) => unknown) => {
  const groups = valid();
  const out = change(groups);
  return out === undefined ? groups : out;
};
const withLabel = (name: string, value: string, group = 1) => tampered((g) => { g[group].labels[name] = value; });

describe('the target file schema', () => {
  it('passes everything render.ts writes for any app the Cloud Controller can describe and any accepted parameters', () => {
    let active = 0;
    fc.assert(fc.property(snapshot, fc.option(instanceParameters, { nil: undefined }), fc.option(bindParameters, { nil: undefined }), (app, inst, bind) => {
      const rendered = renderTargets(app, targetOptions(inst, bind));
      if (rendered.status.state !== 'active') {
        assert.deepEqual(rendered.groups, []);
        return;
      }
      active++;
      assert.equal(targetGroupsProblem(rendered.groups), undefined);
      // ...and as bytes, as a reader sees them, unless the app's instances times its labels make
      // a file larger than readers accept: then the writers refuse it for exactly that reason.
      const body = serializeTargetFile(rendered.groups);
      if (Buffer.byteLength(body) > MAX_TARGET_FILE_BYTES) {
        assert.deepEqual(targetFileWriteProblem(rendered.groups, body), { problem: `larger than ${MAX_TARGET_FILE_BYTES} bytes`, tooLarge: true });
      } else {
        assert.equal(targetFileWriteProblem(rendered.groups, body), undefined);
        assert.equal(targetFileProblem(body), undefined);
      }
    }), { numRuns: RUNS });
    assert.ok(active > RUNS / 10, `enough rendered files were checked (${active})`);
  });

  it('never renders a reserved job name, and never an empty one', () => {
    for (const name of ['prometheus', 'cf-apps', 'cf-app-discovery', 'cf-app-discovery-updater', 'prometheus-venerable']) {
      const job = jobName(name);
      assert.ok(!RESERVED_JOB_REGEX.test(job), `${name} -> ${job}`);
      assert.equal(job, `app-${name.replace(/-venerable$/, '')}`);
    }
    assert.equal(jobName('-venerable'), '-venerable');
    assert.equal(jobName('prometheus-exporter'), 'prometheus-exporter');
    fc.assert(fc.property(ccName(1), (name) => {
      const job = jobName(name);
      assert.ok(job.length > 0 && !RESERVED_JOB_REGEX.test(job));
    }), { numRuns: RUNS });
  });

  it('does not scrape a wildcard route, a route with a port or an unusual path, and says why', () => {
    for (const r of [{ ...route0, host: '*' }, { ...route0, domain: 'apps.example.com:8443' }, { ...route0, path: '/a b' }, { ...route0, path: '/x/' }]) {
      const out = renderTargets({ ...app0, routes: [r] });
      assert.ok(out.status.state === 'inactive' && out.status.reason === 'no-public-route', JSON.stringify(r));
      assert.match(out.status.detail, /not a plain host name and path/);
    }
  });

  const refusals: Array<[string, unknown, RegExp]> = [
    ['a scrape interval of 1ms', withLabel('__scrape_interval__', '1ms'), /group 1 label "__scrape_interval__" is outside 10s-3600s/],
    ['a scrape interval of 2h', withLabel('__scrape_interval__', '2h'), /__scrape_interval__/],
    ['a scrape interval that is no duration', withLabel('__scrape_interval__', '10 s'), /not a Prometheus duration/],
    ['a scrape timeout above the interval', tampered((g) => { g[0].labels.__scrape_interval__ = '15s'; g[0].labels.__scrape_timeout__ = '20s'; }), /__scrape_timeout__/],
    ['a scrape timeout of 10ms', withLabel('__scrape_timeout__', '10ms'), /__scrape_timeout__/],
    ['__address__', withLabel('__address__', '169.254.169.254:80'), /group 1: label "__address__" starts with "__"/],
    ['__scheme__', withLabel('__scheme__', 'https'), /"__scheme__"/],
    ['another __param_', withLabel('__param_target', 'x'), /"__param_target"/],
    ['__metrics_path__ with a line break', withLabel('__metrics_path__', '/metrics\n'), /group 1 label "__metrics_path__"/],
    ['__metrics_path__ with ..', withLabel('__metrics_path__', '/a/../admin'), /__metrics_path__/],
    ['__metrics_path__ with //', withLabel('__metrics_path__', '//evil.example.com/x'), /__metrics_path__/],
    ['__metrics_path__ with a query', withLabel('__metrics_path__', '/metrics?x=1'), /__metrics_path__/],
    ['__metrics_path__ relative', withLabel('__metrics_path__', 'metrics'), /__metrics_path__/],
    ['a reserved job', withLabel('job', 'prometheus'), /label "job" names a platform component/],
    ['the cf-apps job', withLabel('job', 'cf-apps'), /names a platform component/],
    ['a cf-app-discovery job', withLabel('job', 'cf-app-discovery-updater'), /names a platform component/],
    ['an empty job', withLabel('job', ''), /"job"/],
    ['a label of this service\'s metrics', withLabel('cf_app_discovery_bindings', 'x'), /cf_app_discovery_/],
    ['a host with a port', tampered((g) => { g[2].targets = ['my-app.apps.example.com:9090']; }), /group 2 target is not a host name/],
    ['a host with a scheme', tampered((g) => { g[0].targets = ['http://my-app.apps.example.com']; }), /not a host name/],
    ['a host with a path', tampered((g) => { g[0].targets = ['my-app.apps.example.com/x']; }), /not a host name/],
    ['a wildcard host', tampered((g) => { g[0].targets = ['*.apps.example.com']; }), /not a host name/],
    ['an IP with a port', tampered((g) => { g[0].targets = ['127.0.0.1:1']; }), /not a host name/],
    ['two targets in a group', tampered((g) => { g[0].targets.push('other.example.com'); }), /group 0 targets must name exactly one host/],
    ['no target in a group', tampered((g) => { g[0].targets = []; }), /exactly one host/],
    ['10,000 groups', tampered((g) => Array.from({ length: 10_000 }, () => g[0])), /more than 5000 target groups/],
    ['an instance that is not guid:index', withLabel('instance', `${GUID}:7`), /label "instance"/],
    ['__param_cf_app_instance that is not the instance', withLabel('__param_cf_app_instance', `${GUID}:0`), /__param_cf_app_instance/],
    ['a guid with a slash', tampered((g) => { g[0].labels.__param_cf_app_guid = 'a/b'; g[0].labels.instance = 'a/b:0'; g[0].labels.__param_cf_app_instance = 'a/b:0'; }), /group 0 label/],
    ['an index with a sign', withLabel('__param_cf_app_instance_index', '-1'), /__param_cf_app_instance_index/],
    ['a scheme other than http(s)', withLabel('__param_cf_app_scheme', 'ftp'), /__param_cf_app_scheme/],
    ['U+2028 in org', withLabel('org', 'a\u2028b'), /group 1 label "org" contains a control character/],
    ['NEL in a user label', withLabel('team', 'a\u0085b'), /control character/],
    ['NUL in space', withLabel('space', 'a\u0000'), /control character/],
    ['a user label value over 256 characters', withLabel('team', 'x'.repeat(257)), /longer than 256/],
    ['a job over 300 characters', withLabel('job', 'x'.repeat(301)), /"job"/],
    // 20 from the labels parameters and 10 from APP_LABELS: one more is refused.
    [`${MAX_USER_LABELS + 1} user labels`, tampered((g) => { for (let i = 0; i <= MAX_USER_LABELS; i++) g[0].labels[`l${i}`] = 'v'; }), /labels/],
    ['an invalid label name', withLabel('bad-name', 'x'), /not a valid Prometheus label name/],
    ['a missing label', tampered((g) => { delete (g[1].labels as Record<string, string>).space; }), /group 1 labels lacks "space"/],
    ['an extra field in a group', tampered((g) => { (g[0] as unknown as Record<string, unknown>).Labels = {}; }), /unexpected field "Labels"/],
    ['a group without labels', tampered((g) => [{ targets: g[0].targets }]), /lacks "labels"/],
    ['a non-string value', tampered((g) => { (g[0].labels as Record<string, unknown>).team = 5; }), /group 0 label "team"/],
    ['an object instead of a list', { targets: ['a'] }, /the file/],
  ];
  for (const [what, groups, message] of refusals) {
    it(`refuses ${what}`, () => {
      const problem = targetGroupsProblem(groups);
      assert.ok(problem, 'refused');
      assert.match(problem, message);
      assert.equal(targetFileProblem(JSON.stringify(groups)), problem, 'the same for the bytes');
    });
  }

  it('refuses a file that is not JSON, or larger than the cap, before parsing it', () => {
    assert.equal(targetFileProblem('[{"targets": ['), 'not valid JSON');
    const big = serializeTargetFile(valid()).replace('"team": "pay"', `"team": "${'x'.repeat(MAX_TARGET_FILE_BYTES)}"`);
    assert.equal(targetFileProblem(big), `larger than ${MAX_TARGET_FILE_BYTES} bytes`);
  });

  it('refuses any label name a bind could not set, whatever it is', () => {
    const own = new Set(Object.keys(valid()[0].labels));
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 30 }), labelName.map((n) => `__${n}`), labelName.map((n) => `cf_app_discovery_${n}`)), (name) => {
      fc.pre(!own.has(name) && name !== '__proto__' && extraLabelProblem(name) !== undefined);
      assert.ok(targetGroupsProblem(withLabel(name, 'x')));
    }), { numRuns: RUNS });
  });

  it('refuses a control character anywhere in any value', () => {
    const names = Object.keys(valid()[1].labels);
    const control = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f }), fc.constantFrom(0x2028, 0x2029)).map((c) => String.fromCharCode(c));
    fc.assert(fc.property(fc.constantFrom(...names), control, fc.nat(5), (name, c, at) => {
      const value = valid()[1].labels[name];
      const pos = Math.min(at, value.length);
      assert.ok(targetGroupsProblem(withLabel(name, value.slice(0, pos) + c + value.slice(pos))), `${name} with U+${c.charCodeAt(0).toString(16)}`);
    }), { numRuns: RUNS });
  });

  it('refuses a __proto__ label (JSON.parse makes it an own property)', () => {
    assert.match(targetFileProblem(serializeTargetFile(valid()).replace('"team": "pay"', '"__proto__": "x"')) ?? '', /"__proto__" starts with "__"/);
  });

  it('allows user labels that differ from reserved ones only in case (Prometheus label names are case-sensitive)', () => {
    assert.equal(targetGroupsProblem(withLabel('Job', 'x', 0)), undefined);
  });

  it('takes the scrape bounds as options (a later issue makes them settings)', () => {
    const groups = withLabel('__scrape_interval__', '5s');
    assert.ok(targetGroupsProblem(groups));
    assert.equal(targetGroupsProblem(groups, { scrape: { minIntervalSeconds: 5, maxIntervalSeconds: 60 } }), undefined);
    assert.equal(targetGroupsProblem(withLabel('__scrape_interval__', '1m30s')), undefined);
  });
});
