import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseDashboardUrlTemplate } from '../../shared/config/dashboard-url';
import { ConfigError, loadConfig } from '../../shared/config/load';
import { BrokerHarness, startBrokerHarness } from '../support/broker-harness';
import { INTEGRATION } from '../support/integration';
import { asPlatform, ORG_GUID, provisionBody, SPACE_GUID } from '../support/osb-client';

/*
 * DASHBOARD_URL: what `cf service my-monitoring` shows app teams as its dashboard. The template
 * is checked at start; each instance's link is filled from its ids and the names CF sent in the
 * provision context, every value URL-encoded.
 */
const BROKER = { BROKER_USERNAME: 'broker', BROKER_PASSWORD: 'k7Qm-2vXr-9pLw' };
const TEMPLATE =
  'https://grafana.example.com/d/cf-apps/{org}/{space}?var-org_guid={org_guid}&var-space_guid={space_guid}&var-instance={instance_id}';

function problem(template: string): string {
  try {
    loadConfig({ ...BROKER, DASHBOARD_URL: template }, { brokerCredentials: true });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(template)} to be refused`);
}

describe('DASHBOARD_URL, checked at start', () => {
  it('accepts http(s) templates with the five placeholders, and none', () => {
    for (const ok of [
      TEMPLATE,
      'http://grafana.internal:3000/d/x?org={org}#space={space}',
      'https://grafana.example.com/d/cf-apps',
      'https://grafana.example.com/{instance_id}',
    ])
      assert.ok(loadConfig({ ...BROKER, DASHBOARD_URL: ok }).dashboardUrl, ok);
    assert.equal(loadConfig(BROKER).dashboardUrl, undefined, 'unset: no link');
  });

  it('refuses what is not an http(s) URL, an unknown placeholder, a stray brace, a placeholder in the host', () => {
    const cases: Array<[string, RegExp]> = [
      ['grafana.example.com/d/{org}', /must be an http\(s\) URL/],
      ['ftp://grafana.example.com/{org}', /must be an http\(s\) URL/],
      ['javascript:alert(1)//{org}', /must be an http\(s\) URL/],
      ['https:///{org}', /must be an http\(s\) URL/],
      [
        'https://grafana.example.com/d?org={organization}',
        /unknown placeholder \{organization\}; known: \{org\}, \{space\}/,
      ],
      ['https://grafana.example.com/d?org={ORG}', /unknown placeholder \{ORG\}/],
      ['https://grafana.example.com/d?org={org', /lone "\{"/],
      ['https://grafana.example.com/d?org=org}', /lone "\}"/],
      ['https://{org}.grafana.example.com/d', /placeholder in the host/],
      ['https://grafana.example.com{space}/d', /placeholder in the host/],
      ['https://grafana.example.com/d?org={org} ', /whitespace or a control character/],
      ['https://grafana.example.com/d?\norg={org}', /whitespace or a control character/],
    ];
    for (const [template, want] of cases) {
      const message = problem(template);
      assert.match(message, /^DASHBOARD_URL: /, template);
      assert.match(message, want, template);
    }
    assert.match(
      problem('https://grafana.example.com/' + 'x'.repeat(2100)),
      /^DASHBOARD_URL: must be an http\(s\) URL template \(at most 2048/,
    );
  });

  it('the parsed template keeps the literal text as written', () => {
    assert.deepEqual(parseDashboardUrlTemplate('https://g.example.com/a%20b/{space}?x=1'), [
      'https://g.example.com/a%20b/',
      { placeholder: 'space' },
      '?x=1',
    ]);
  });
});

describe('DASHBOARD_URL: a refused template stops the broker with exit 78 ' + INTEGRATION, () => {
  it('names the variable in one line and starts nothing', () => {
    const r = spawnSync(process.execPath, [resolve(__dirname, '..', '..', 'cli.js'), 'broker'], {
      env: {
        PATH: process.env.PATH ?? '',
        ...BROKER,
        PORT: '0',
        DASHBOARD_URL: 'https://grafana.example.com/{tenant}',
      },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 78, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /DASHBOARD_URL: has an unknown placeholder \{tenant\}/);
    assert.doesNotMatch(r.stdout, /listening/);
  });
});

describe('dashboard_url of a service instance', () => {
  let h: BrokerHarness;
  afterEach(async () => h?.stop());

  const start = async (template?: string) => {
    const parsed = template === undefined ? undefined : parseDashboardUrlTemplate(template);
    assert.ok(!parsed || Array.isArray(parsed), 'a valid template');
    h = await startBrokerHarness('fs', { config: { dashboardUrl: parsed as never } });
    return asPlatform(h.http);
  };
  const withNames = (names: Record<string, unknown>) => {
    const body = provisionBody(h.catalog);
    return { ...body, context: { ...body.context, ...names } };
  };

  it('is filled from the names and ids, each URL-encoded, on 201, on the repeated PUT (200) and on fetch', async () => {
    const osb = await start(TEMPLATE);
    const org = 'Payments & Billing/EU';
    const space = 'prød 🚀 #1?';
    const body = withNames({ organization_name: org, space_name: space });
    const want =
      'https://grafana.example.com/d/cf-apps/Payments%20%26%20Billing%2FEU/pr%C3%B8d%20%F0%9F%9A%80%20%231%3F' +
      `?var-org_guid=${ORG_GUID}&var-space_guid=${SPACE_GUID}&var-instance=inst-1`;
    const created = await osb.put('/v2/service_instances/inst-1', body).expect(201);
    assert.deepEqual(created.body, { dashboard_url: want });
    const again = await osb.put('/v2/service_instances/inst-1', body).expect(200);
    assert.deepEqual(again.body, { dashboard_url: want });
    const fetched = await osb.get('/v2/service_instances/inst-1').expect(200);
    assert.equal(fetched.body.dashboard_url, want);
    // The values stay inside their path segment and query value: the link goes where the operator said.
    const url = new URL(want);
    assert.equal(url.origin, 'https://grafana.example.com');
    assert.deepEqual(url.pathname.split('/').slice(1).map(decodeURIComponent), ['d', 'cf-apps', org, space]);
    assert.equal(url.searchParams.get('var-instance'), 'inst-1');
    assert.deepEqual([...url.searchParams.keys()], ['var-org_guid', 'var-space_guid', 'var-instance']);
  });

  it('is absent when DASHBOARD_URL is unset', async () => {
    const osb = await start(undefined);
    const body = provisionBody(h.catalog);
    assert.deepEqual((await osb.put('/v2/service_instances/inst-2', body).expect(201)).body, {});
    assert.deepEqual((await osb.put('/v2/service_instances/inst-2', body).expect(200)).body, {});
    const fetched = await osb.get('/v2/service_instances/inst-2').expect(200);
    assert.ok(!('dashboard_url' in fetched.body), JSON.stringify(fetched.body));
  });

  it('is left out, and the provision logs why, when the platform sent no name the template needs', async () => {
    const osb = await start('https://grafana.example.com/d/cf-apps?org={org}&space={space}');
    const body = withNames({ organization_name: undefined, space_name: 7 });
    assert.deepEqual((await osb.put('/v2/service_instances/inst-3', body).expect(201)).body, {});
    assert.ok(!('dashboard_url' in (await osb.get('/v2/service_instances/inst-3').expect(200)).body));
    const warning = h.logs.find((l) => l.includes('no dashboard_url'));
    assert.ok(warning, h.logs.join(''));
    assert.deepEqual(JSON.parse(warning).missing, ['{org}', '{space}']);
    // A template of ids only needs no names.
    await h.stop();
    const byId = await start('https://grafana.example.com/d/cf-apps?space={space_guid}&i={instance_id}');
    const created = await byId.put('/v2/service_instances/inst-4', body).expect(201);
    assert.equal(created.body.dashboard_url, `https://grafana.example.com/d/cf-apps?space=${SPACE_GUID}&i=inst-4`);
  });
});
