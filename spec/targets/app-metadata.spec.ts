import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ANNOTATIONS, appTargetLabels, parseAppLabels } from '../../shared/targets/app-metadata';
import { BindingParameters, InstanceParameters, readAnnotations, targetOptions } from '../../shared/targets/options';
import { renderTargets } from '../../shared/targets/render';
import { DEFAULT_SCRAPE_BOUNDS, targetGroupsProblem } from '../../shared/targets/schema';
import type { AppSnapshot } from '../../shared/targets/types';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const GUID = '0b7d4f3e-1c2a-4b5c-9d8e-7f6a5b4c3d2e';
const bounds = DEFAULT_SCRAPE_BOUNDS;

function app(metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): AppSnapshot {
  return {
    guid: GUID,
    name: 'shop',
    state: 'STARTED',
    orgName: 'o',
    spaceName: 's',
    instances: 2,
    routes: [{ host: 'shop', domain: 'apps.example.com', path: '', protocol: 'http', internal: false }],
    ...metadata,
  };
}

const settings = (appLabels = 'team,example.com/cost-center') => ({ appLabels: parseAppLabels(appLabels), scrape: bounds });

describe('APP_LABELS', () => {
  it('maps each key, with or without a prefix, to its name part with "-" and "." as "_"', () => {
    assert.deepEqual(parseAppLabels(' team , example.com/cost-center,tier.level '), [
      { key: 'team', name: 'team' },
      { key: 'example.com/cost-center', name: 'cost_center' },
      { key: 'tier.level', name: 'tier_level' },
    ]);
    assert.deepEqual(parseAppLabels(''), []);
  });

  for (const [setting, message] of [
    ['job', /"job" is set by the broker/],
    ['example.com/instance', /"instance" is set by the broker/],
    ['org', /"org"/],
    ['space', /"space"/],
    ['__meta', /not a Cloud Foundry label key/], // CF keys start alphanumeric; "__" never reaches a name
    ['cf-app-discovery-x', /cf_app_discovery_/],
    ['team,acme.io/team', /"team" and "acme.io\/team" would both become the target label "team"/],
    ['cost-center,cost.center', /would both become the target label "cost_center"/],
    ['a/b/c', /more than one "\/"/],
    ['-team', /not a Cloud Foundry label key/],
    ['1team', /not a valid Prometheus label name/],
    [Array.from({ length: 11 }, (_, i) => `k${i}`).join(','), /at most 10/],
  ] as const) {
    it(`refuses ${JSON.stringify(setting.slice(0, 30))}`, () => {
      assert.throws(() => parseAppLabels(setting), message);
    });
  }

  it('copies the listed labels only, and leaves out a value the CC would not have accepted', () => {
    const mappings = parseAppLabels('team,example.com/cost-center');
    assert.deepEqual(
      appTargetLabels({ team: 'pay', 'example.com/cost-center': 'cc-42', secret: 'x', 'other.io/team': 'y' }, mappings),
      { team: 'pay', cost_center: 'cc-42' },
    );
    assert.deepEqual(appTargetLabels({ team: 'line\nbreak', 'example.com/cost-center': '' }, mappings), {});
    assert.deepEqual(appTargetLabels({ team: 'x'.repeat(64) }, mappings), {});
  });

  it('puts the listed labels on every target, never the unlisted ones', () => {
    const rendered = renderTargets(app(), targetOptions({}, {}, { labels: { team: 'pay', secret: 's3' } }, settings()));
    for (const g of rendered.groups) {
      assert.equal(g.labels.team, 'pay');
      assert.equal(Object.values(g.labels).includes('s3'), false);
    }
  });
});

describe('prometheus.io annotations', () => {
  it('reads each valid annotation', () => {
    const read = readAnnotations(
      {
        [ANNOTATIONS.scrape]: 'true',
        [ANNOTATIONS.path]: '/internal/metrics',
        [ANNOTATIONS.scheme]: 'http',
        [ANNOTATIONS.scrapeInterval]: '30s',
        [ANNOTATIONS.scrapeTimeout]: '5s',
      },
      bounds,
    );
    assert.deepEqual(read, {
      optedOut: false,
      path: '/internal/metrics',
      scheme: 'http',
      scrapeInterval: '30s',
      scrapeTimeout: '5s',
      ignored: [],
    });
    assert.equal(readAnnotations({ [ANNOTATIONS.scrape]: 'False' }, bounds).optedOut, true);
  });

  for (const [annotation, value, problem] of [
    [ANNOTATIONS.scrape, 'nope', /neither "true" nor "false"/],
    [ANNOTATIONS.path, '/../admin', /absolute URL path/],
    [ANNOTATIONS.path, 'stats', /absolute URL path/],
    [ANNOTATIONS.scheme, 'ftp', /neither "http" nor "https"/],
    [ANNOTATIONS.scrapeInterval, '5s', /outside the allowed 10s to 3600s/],
    [ANNOTATIONS.scrapeInterval, '2h', /outside/],
    [ANNOTATIONS.scrapeInterval, 'often', /not a Prometheus duration/],
    [ANNOTATIONS.scrapeTimeout, '500ms', /outside/],
    [ANNOTATIONS.scrapeTimeout, '10 s', /not a Prometheus duration/],
  ] as const) {
    it(`ignores ${annotation}: ${JSON.stringify(value)}, says why, and keeps the rest of the targets`, () => {
      // One valid annotation next to the invalid one: it still applies.
      const valid: Record<string, string> =
        annotation === ANNOTATIONS.path ? { [ANNOTATIONS.scheme]: 'http' } : { [ANNOTATIONS.path]: '/m' };
      const options = targetOptions({}, {}, { annotations: { ...valid, [annotation]: value } }, settings());
      assert.equal(options.ignoredAnnotations?.length, 1);
      assert.equal(options.ignoredAnnotations[0].annotation, annotation);
      assert.match(options.ignoredAnnotations[0].problem, problem);
      assert.equal(JSON.stringify(options.ignoredAnnotations).includes(value), false, 'the value is never echoed');
      const rendered = renderTargets(app(), options);
      assert.equal(rendered.status.state, 'active');
      assert.equal(rendered.groups.length, 2);
      if (annotation === ANNOTATIONS.path) assert.equal(rendered.groups[0].labels.__param_cf_app_scheme, 'http');
      else assert.equal(rendered.groups[0].labels.__metrics_path__, '/m');
      assert.equal(targetGroupsProblem(rendered.groups), undefined);
    });
  }

  it('prometheus.io/scrape "false" leaves the app without targets and says it opted out', () => {
    const rendered = renderTargets(app(), targetOptions({}, {}, { annotations: { [ANNOTATIONS.scrape]: 'false' } }));
    assert.deepEqual(rendered.groups, []);
    assert.equal(rendered.status.state, 'inactive');
    assert.equal(rendered.status.state === 'inactive' && rendered.status.reason, 'opted-out');
    assert.match(rendered.status.state === 'inactive' ? rendered.status.detail : '', /prometheus\.io\/scrape/);
  });

  it('path and scheme annotations shape the target as the bind parameters do', () => {
    const [g] = renderTargets(app(), targetOptions({}, {}, { annotations: { [ANNOTATIONS.path]: '/prom', [ANNOTATIONS.scheme]: 'http' } })).groups;
    assert.equal(g.labels.__metrics_path__, '/prom');
    assert.equal(g.labels.__param_cf_app_scheme, 'http');
  });
});

describe('precedence: binding, then app annotations, then instance, then operator defaults', () => {
  type Row = [string, InstanceParameters, Record<string, string>, BindingParameters, Record<string, string | undefined>];
  const A = ANNOTATIONS;
  const rows: Row[] = [
    ['nothing set: the Prometheus job decides', {}, {}, {}, { interval: undefined, timeout: undefined, path: '/metrics' }],
    ['instance only', { scrape_interval: '2m', scrape_timeout: '20s' }, {}, {}, { interval: '2m', timeout: '20s' }],
    ['annotation over instance', { scrape_interval: '2m' }, { [A.scrapeInterval]: '1m' }, {}, { interval: '1m' }],
    ['binding over annotation and instance', { scrape_interval: '2m' }, { [A.scrapeInterval]: '1m' }, { scrape_interval: '30s' }, { interval: '30s' }],
    ['each setting on its own: binding interval, annotation timeout', { scrape_timeout: '3s' }, { [A.scrapeTimeout]: '4s' }, { scrape_interval: '30s' }, { interval: '30s', timeout: '4s' }],
    ['an invalid annotation falls through to the instance', { scrape_interval: '2m' }, { [A.scrapeInterval]: '1s' }, {}, { interval: '2m' }],
    ['binding path over annotation path', {}, { [A.path]: '/a' }, { path: '/b' }, { path: '/b' }],
    ['annotation path when the binding has none', {}, { [A.path]: '/a' }, {}, { path: '/a' }],
    ['binding scheme over annotation scheme', {}, { [A.scheme]: 'http' }, { scheme: 'https' }, { scheme: 'https' }],
    ['a timeout above the interval is lowered to it', {}, { [A.scrapeTimeout]: '50s' }, { scrape_interval: '30s' }, { interval: '30s', timeout: '30s' }],
    ['a timeout without any interval is lowered to the smallest interval allowed', { scrape_timeout: '50s' }, {}, {}, { interval: undefined, timeout: '10s' }],
    ['a stored interval outside the current bounds is skipped', { scrape_interval: '5s' }, {}, {}, { interval: undefined }],
  ];
  for (const [what, instance, annotations, binding, want] of rows) {
    it(what, () => {
      const [g] = renderTargets(app(), targetOptions(instance, binding, { annotations }, settings())).groups;
      if ('interval' in want) assert.equal(g.labels.__scrape_interval__, want.interval);
      if ('timeout' in want) assert.equal(g.labels.__scrape_timeout__, want.timeout);
      if ('path' in want) assert.equal(g.labels.__metrics_path__, want.path);
      if ('scheme' in want) assert.equal(g.labels.__param_cf_app_scheme, want.scheme);
      assert.equal(targetGroupsProblem(g ? [g] : []), undefined);
    });
  }

  it('labels merge name by name: binding over app labels over instance', () => {
    const [g] = renderTargets(
      app({ labels: { team: 'from-app', 'example.com/cost-center': 'cc-1' } }),
      targetOptions({ labels: { team: 'from-instance', tier: 'i', cost_center: 'i' } }, { labels: { tier: 'b' } }, app({ labels: { team: 'from-app', 'example.com/cost-center': 'cc-1' } }), settings()),
    ).groups;
    assert.equal(g.labels.team, 'from-app');
    assert.equal(g.labels.cost_center, 'cc-1');
    assert.equal(g.labels.tier, 'b');
  });
});

describe('rendering with app metadata always gives a file the schema accepts', () => {
  const keyName = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
  const cfValue = fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?$/);
  const anything = fc.oneof(fc.string({ maxLength: 60 }), cfValue, fc.constantFrom('30s', '1m', '5s', '2h', 'false', 'true', '/m', 'http'));
  const annotationName = fc.constantFrom(...Object.values(ANNOTATIONS));

  it('whatever the app labels and annotations hold, within any bounds', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(keyName, { maxLength: 10 }).filter((keys) => {
          try {
            parseAppLabels(keys.join(','));
            return true;
          } catch {
            return false;
          }
        }),
        fc.dictionary(keyName, anything, { maxKeys: 12 }),
        fc.dictionary(annotationName, anything, { maxKeys: 5 }),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 0, max: 4000 }),
        fc.option(fc.constantFrom('10s', '30s', '90s', '1h')),
        (keys, labels, annotations, min, extra, interval) => {
          const scrape = { minIntervalSeconds: min, maxIntervalSeconds: min + extra };
          const options = targetOptions({}, interval ? { scrape_interval: interval } : {}, { labels, annotations }, { appLabels: parseAppLabels(keys.join(',')), scrape });
          const rendered = renderTargets(app({ labels, annotations }), options);
          assert.equal(targetGroupsProblem(rendered.groups, { scrape }), undefined);
          for (const g of rendered.groups) for (const name of Object.keys(g.labels)) if (!name.startsWith('__') && !['job', 'org', 'space', 'instance'].includes(name)) assert.ok(keys.some((k) => k.replace(/[-.]/g, '_') === name), `${name} comes from APP_LABELS`);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
