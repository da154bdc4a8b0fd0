import assert from 'node:assert/strict';
import { ConfigError, loadConfig, Requirements } from '../../shared/config/load';

const BROKER = { BROKER_USERNAME: 'broker', BROKER_PASSWORD: 'k7Qm-2vXr-9pLw' };

function problem(env: Record<string, string>, needs: Requirements = { brokerCredentials: true }): string {
  try {
    loadConfig(env, needs);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('expected a configuration error');
}

describe('configuration', () => {
  it('has working defaults: fs store in ./data on port 8080, stable catalog ids', () => {
    const c = loadConfig(BROKER, { brokerCredentials: true });
    assert.equal(c.port, 8080);
    assert.equal(c.store.store, 'fs');
    assert.equal(c.store.storeDir, './data');
    assert.equal(c.catalog.serviceName, 'prometheus');
    assert.equal(c.catalog.planName, 'default');
    assert.equal(c.catalog.serviceId, loadConfig(BROKER).catalog.serviceId);
    assert.equal(c.cf, undefined);
  });

  it('gives a reconcile 240 s by default; RECONCILE_TIMEOUT_SECONDS takes 10 to 3600', () => {
    assert.equal(loadConfig(BROKER).reconcileTimeoutMs, 240_000);
    assert.equal(loadConfig({ ...BROKER, RECONCILE_TIMEOUT_SECONDS: '60' }).reconcileTimeoutMs, 60_000);
    for (const bad of ['0', '9', '3601', '-5', '1.5', 'soon']) {
      assert.match(
        problem({ ...BROKER, RECONCILE_TIMEOUT_SECONDS: bad }),
        /^RECONCILE_TIMEOUT_SECONDS: must be a whole number of seconds from 10 to 3600/,
      );
    }
  });

  it('refuses to run the broker without broker credentials, naming the variable', () => {
    assert.match(problem({}), /^BROKER_USERNAME: is required/);
    assert.match(problem({ BROKER_USERNAME: 'x' }), /^BROKER_PASSWORD: is required/);
  });

  it('names the variable and the rule for an invalid value, without echoing secrets', () => {
    assert.match(problem({ ...BROKER, PORT: 'eighty' }), /^PORT: must be a port number/);
    assert.match(problem({ ...BROKER, STORE: 'gcs' }), /^STORE: must be fs or s3 \(got "gcs"\)/);
    assert.match(problem({ ...BROKER, CF_API_URL: 'api.example.com' }), /^CF_API_URL: must be an http\(s\) URL/);
    assert.match(problem({ ...BROKER, STORE: 's3' }), /^S3_BUCKET: is required when STORE=s3/);
    assert.match(problem({ ...BROKER, LOG_LEVEL: 'loud' }), /^LOG_LEVEL:/);
  });

  it('requires a complete pair of CF credentials', () => {
    const api = { ...BROKER, CF_API_URL: 'https://api.example.com' };
    assert.match(problem({ ...api, CF_USERNAME: 'u' }), /^CF_PASSWORD: is required when CF_USERNAME is set/);
    assert.match(problem({ ...api, CF_CLIENT_ID: 'c' }), /^CF_CLIENT_SECRET: is required/);
    assert.match(problem({ ...api }), /^CF_USERNAME: set CF_USERNAME and CF_PASSWORD/);
    assert.match(
      problem({ ...BROKER, CF_USERNAME: 'u', CF_PASSWORD: 'p' }),
      /^CF_API_URL: is required when CF credentials are set/,
    );
    const c = loadConfig({ ...api, CF_CLIENT_ID: 'prom', CF_CLIENT_SECRET: 'x' }, {});
    assert.deepEqual(
      { kind: c.cf?.credentials.kind, principal: c.cf?.credentials.principal },
      { kind: 'client', principal: 'prom' },
    );
  });

  it('reads the same keys from a user-provided service in VCAP_SERVICES; the environment wins', () => {
    const vcap = JSON.stringify({
      'user-provided': [
        {
          name: 'discovery-secrets',
          credentials: {
            BROKER_USERNAME: 'from-vcap',
            BROKER_PASSWORD: 'vcap-pw-4Tz8-q1Rn',
            CF_API_URL: 'https://api.sys.example.com',
            CF_USERNAME: 'prom',
            CF_PASSWORD: 'pw2',
            PORT: 9000,
          },
        },
      ],
    });
    const c = loadConfig({ VCAP_SERVICES: vcap, PORT: '8081' }, { brokerCredentials: true, cloudController: true });
    assert.equal(c.brokerUsername, 'from-vcap');
    assert.equal(c.cf?.apiUrl, 'https://api.sys.example.com');
    assert.equal(c.port, 8081);
    assert.match(problem({ VCAP_SERVICES: '{not json' }), /^VCAP_SERVICES: is not valid JSON/);
  });

  it('reads APP_LABELS and the scrape bounds, refusing what contradicts itself, naming the variable', () => {
    const c = loadConfig({ ...BROKER, APP_LABELS: 'team, example.com/cost-center' });
    assert.deepEqual(c.rendering.appLabels, [
      { key: 'team', name: 'team' },
      { key: 'example.com/cost-center', name: 'cost_center' },
    ]);
    assert.deepEqual(c.rendering.scrape, { minIntervalSeconds: 10, maxIntervalSeconds: 3600 });
    assert.deepEqual(loadConfig(BROKER).rendering.appLabels, []);
    assert.match(
      problem({ ...BROKER, APP_LABELS: 'space' }),
      /^APP_LABELS: "space" cannot be copied: the target label "space" is set by the broker/,
    );
    assert.match(problem({ ...BROKER, APP_LABELS: 'a.io/team,b.io/team' }), /^APP_LABELS: .*would both become/);
    assert.match(
      problem({ ...BROKER, APP_LABELS: 'bad key' }),
      /^APP_LABELS: "bad key" is not a Cloud Foundry label key/,
    );
    assert.match(
      problem({ ...BROKER, SCRAPE_INTERVAL_MIN_SECONDS: '60', SCRAPE_INTERVAL_MAX_SECONDS: '30' }),
      /^SCRAPE_INTERVAL_MAX_SECONDS: must not be below SCRAPE_INTERVAL_MIN_SECONDS/,
    );
    assert.match(problem({ ...BROKER, SCRAPE_INTERVAL_MIN_SECONDS: '0' }), /^SCRAPE_INTERVAL_MIN_SECONDS:/);
  });

  it('never prints a secret value in an error', () => {
    const msg = problem({
      BROKER_USERNAME: 'b',
      BROKER_PASSWORD: 'pw',
      CF_API_URL: 'https://x.example.com',
      CF_USERNAME: 'u',
      CF_PASSWORD: 'hunter2',
      CF_CLIENT_ID: 'c',
      CF_CLIENT_SECRET: 'topsecret',
    });
    assert.ok(!msg.includes('hunter2') && !msg.includes('topsecret'));
  });
});

describe('password strength and the generated broker password', () => {
  const needs = { brokerCredentials: true };

  it('refuses short, blank, repetitive, default and user-name passwords, naming the variable and never the value', () => {
    const weak = [
      'a',
      ' ',
      '            ',
      'change-me',
      'CHANGEME',
      'changeme-changeme',
      'password1234',
      'Password-2024',
      'admin-admin-admin',
      'secret',
      'prometheus',
      '123456789012',
      'aaaaaaaaaaaaaaaa',
      'abababababab',
      'qwerty123456',
      'broker-broker',
    ];
    for (const password of weak) {
      const message = problem({ BROKER_USERNAME: 'ops', BROKER_PASSWORD: password }, needs);
      assert.match(message, /^BROKER_PASSWORD: is too weak/, password);
      if (password.trim().length > 1) assert.ok(!message.includes(password), `echoed ${password}`);
    }
    assert.match(
      problem({ BROKER_USERNAME: 'cf-broker-admin', BROKER_PASSWORD: 'CF_Broker_Admin_2026' }, needs),
      /the user name/,
    );
  });

  it('accepts 12 characters and more that are not a default', () => {
    for (const password of ['k7Qm-2vXr-9pL', 'correct horse battery staple', 'Xk4t9QmZr2Lp', 'demo-password-7Yq']) {
      assert.equal(loadConfig({ BROKER_USERNAME: 'ops', BROKER_PASSWORD: password }, needs).brokerPassword, password);
    }
  });

  it('generates a broker password only when none is set and HOST is loopback', () => {
    const generate = () => 'generated-Zx81-aa9K-q';
    for (const HOST of ['127.0.0.1', 'localhost', '::1']) {
      const c = loadConfig({ HOST }, { ...needs, generateBrokerPassword: generate });
      assert.deepEqual(
        [c.brokerUsername, c.brokerPassword, c.generatedBrokerPassword, c.host],
        ['admin', 'generated-Zx81-aa9K-q', true, HOST],
      );
    }
    assert.equal(
      loadConfig({ HOST: '127.0.0.1', BROKER_USERNAME: 'me' }, { ...needs, generateBrokerPassword: generate })
        .brokerUsername,
      'me',
    );
    const set = loadConfig({ HOST: '127.0.0.1', ...BROKER }, { ...needs, generateBrokerPassword: generate });
    assert.deepEqual([set.brokerPassword, set.generatedBrokerPassword], [BROKER.BROKER_PASSWORD, false]);
    for (const env of [{}, { HOST: '0.0.0.0' }, { HOST: '10.0.0.5' }] as Array<Record<string, string>>) {
      assert.match(problem(env, { ...needs, generateBrokerPassword: generate }), /^BROKER_USERNAME: is required/);
    }
  });
});
