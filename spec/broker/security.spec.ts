import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import supertest from 'supertest';
import { buildBroker } from '../../cli/broker';
import { ConfigError, loadConfig } from '../../shared/config/load';
import { Writable } from 'node:stream';
import { createLogger } from '../../shared/logger';

const CURRENT = { username: 'cf-broker-2026', password: 'new-secret-3b9f' };
const PREVIOUS = { username: 'cf-broker-2025', password: 'old-secret-77c1' };
const METRICS = { username: 'prometheus', password: 'scrape-secret-51aa' };
const TARGETS = { username: 'prometheus-sd', password: 'http-sd-secret-8e2d' };
const SERVICE = 'a9d3f3c8-6c7e-4f3b-9d2e-0f6b6e1c5a11';
const PLAN = '5e0c7a52-2f4a-4e5b-8c1d-7d9b3a6f2e22';
const Q = `?service_id=${SERVICE}&plan_id=${PLAN}`;

/** Every authenticated endpoint, as CF or an operator calls it. */
const ROUTES: Array<[method: 'get' | 'put' | 'patch' | 'delete' | 'post', path: string]> = [
  ['get', '/v2/catalog'],
  ['put', '/v2/service_instances/i-1'],
  ['patch', '/v2/service_instances/i-1'],
  ['get', '/v2/service_instances/i-1'],
  ['delete', `/v2/service_instances/i-1${Q}`],
  ['get', '/v2/service_instances/i-1/last_operation'],
  ['put', '/v2/service_instances/i-1/service_bindings/b-1'],
  ['get', '/v2/service_instances/i-1/service_bindings/b-1'],
  ['delete', `/v2/service_instances/i-1/service_bindings/b-1${Q}`],
  ['get', '/v2/service_instances/i-1/service_bindings/b-1/last_operation'],
  ['get', '/v2/no-such-endpoint'],
  ['post', '/update-targets'],
  ['get', '/targets'],
  ['get', '/metrics'],
  ['get', '/no-such-page'],
];

const basic = (c: { username: string; password: string }) =>
  'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');

const WRONG_AUTHORIZATION: Record<string, string | undefined> = {
  'no Authorization header': undefined,
  'the right user with a wrong password': basic({ username: CURRENT.username, password: 'guess' }),
  'a wrong user with the right password': basic({ username: 'admin', password: CURRENT.password }),
  'the password with a character more': basic({ username: CURRENT.username, password: CURRENT.password + 'x' }),
  'an empty user and password': basic({ username: '', password: '' }),
  'Bearer instead of Basic': `Bearer ${CURRENT.password}`,
  'base64 without a colon': 'Basic ' + Buffer.from(CURRENT.username + CURRENT.password).toString('base64'),
  garbage: 'Basic !!!not-base64!!!',
  'the right pair with junk after the base64 padding': basic(CURRENT) + '=QUFB',
};

describe('broker security: authentication on every route, credential rotation, headers, limits', () => {
  let dir: string;
  const brokers: Array<ReturnType<typeof buildBroker>> = [];
  // Every line every broker in this file logs, at debug level.
  const logs: string[] = [];
  const logger = createLogger(
    'debug',
    new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );

  async function broker(extra: Record<string, string> = {}) {
    const env = {
      BROKER_USERNAME: CURRENT.username,
      BROKER_PASSWORD: CURRENT.password,
      STORE: 'fs',
      STORE_DIR: join(dir, `store-${brokers.length}`),
      ...extra,
    };
    const built = buildBroker(loadConfig(env, { brokerCredentials: true }), logger);
    brokers.push(built);
    return supertest(built.app);
  }

  function call(
    http: supertest.Agent | ReturnType<typeof supertest>,
    method: (typeof ROUTES)[number][0],
    path: string,
    authorization?: string,
  ) {
    const t = (http as ReturnType<typeof supertest>)[method](path).set('X-Broker-API-Version', '2.15');
    if (authorization !== undefined) t.set('Authorization', authorization);
    return method === 'put' || method === 'patch' ? t.send({ service_id: SERVICE, plan_id: PLAN }) : t;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'broker-security-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('answers /healthz, and only /healthz, without credentials', async () => {
    const http = await broker();
    const res = await http.get('/healthz').expect(200);
    assert.equal(res.body.status, 'ok');
    for (const [method, path] of ROUTES) {
      const denied = await call(http, method, path);
      assert.equal(denied.status, 401, `${method.toUpperCase()} ${path} without credentials`);
    }
  });

  it(`refuses ${Object.keys(WRONG_AUTHORIZATION).length} kinds of wrong credentials on all ${ROUTES.length} routes with 401, a challenge and an OSB error body`, async () => {
    const http = await broker();
    for (const [method, path] of ROUTES) {
      for (const [what, authorization] of Object.entries(WRONG_AUTHORIZATION)) {
        const res = await call(http, method, path, authorization);
        assert.equal(res.status, 401, `${method.toUpperCase()} ${path} with ${what}`);
        assert.match(res.get('WWW-Authenticate') ?? '', /^Basic realm=/, `${path}: challenge`);
        if (path !== '/metrics') {
          assert.equal(res.body.error, 'Unauthorized', `${path} with ${what}: OSB error body`);
          assert.match(res.body.description, /BROKER_USERNAME/);
          assert.ok(!JSON.stringify(res.body).includes(CURRENT.password), 'the answer never echoes the password');
        }
      }
    }
  });

  it('lets the right credentials through on every route (whatever the route then answers, never 401)', async () => {
    const http = await broker();
    for (const [method, path] of ROUTES) {
      const res = await call(http, method, path, basic(CURRENT));
      assert.notEqual(res.status, 401, `${method.toUpperCase()} ${path}`);
      assert.ok(
        res.status < 500 || path === '/update-targets',
        `${method.toUpperCase()} ${path}: ${res.status} ${JSON.stringify(res.body)}`,
      );
    }
  });

  it('accepts the previous credentials beside the current ones while an operator rotates them, and only then', async () => {
    const rotating = await broker({
      BROKER_PREVIOUS_USERNAME: PREVIOUS.username,
      BROKER_PREVIOUS_PASSWORD: PREVIOUS.password,
    });
    for (const [method, path] of ROUTES) {
      for (const creds of [CURRENT, PREVIOUS]) {
        const res = await call(rotating, method, path, basic(creds));
        assert.notEqual(res.status, 401, `${method.toUpperCase()} ${path} as ${creds.username} during the rotation`);
      }
      // A pair must match as a pair: the old user with the new password is still a stranger.
      const mixed = await call(
        rotating,
        method,
        path,
        basic({ username: PREVIOUS.username, password: CURRENT.password }),
      );
      assert.equal(mixed.status, 401, `${path}: old user with new password`);
    }
    const rotated = await broker();
    await call(rotated, 'get', '/v2/catalog', basic(PREVIOUS)).expect(401);
    await call(rotated, 'get', '/v2/catalog', basic(CURRENT)).expect(200);
  });

  it("lets TARGETS_USERNAME/PASSWORD read GET /targets and nothing else; the broker's own pair still reads it too", async () => {
    const http = await broker({ TARGETS_USERNAME: TARGETS.username, TARGETS_PASSWORD: TARGETS.password });
    const listed = await http.get('/targets').set('Authorization', basic(TARGETS)).expect(200);
    assert.ok(Array.isArray(listed.body));
    await http.get('/targets').set('Authorization', basic(CURRENT)).expect(200);
    for (const [method, path] of ROUTES) {
      if (method === 'get' && path === '/targets') continue;
      const res = await call(http, method, path, basic(TARGETS));
      assert.equal(res.status, 401, `${method.toUpperCase()} ${path} with the targets-only pair`);
    }
    for (const method of ['post', 'put', 'delete'] as const)
      await call(http, method, '/targets', basic(TARGETS)).expect(401);
    // Without the setting the pair is a stranger even on /targets.
    await (await broker()).get('/targets').set('Authorization', basic(TARGETS)).expect(401);
  });

  it('refuses to start with half a targets pair or a weak targets, metrics or previous password, naming the variable and never the secret', () => {
    const base = { BROKER_USERNAME: CURRENT.username, BROKER_PASSWORD: CURRENT.password };
    const refused = (env: Record<string, string>, message: RegExp, secret?: string) =>
      assert.throws(
        () => loadConfig({ ...base, ...env }, { brokerCredentials: true }),
        (err: unknown) =>
          err instanceof ConfigError &&
          message.test(err.message) &&
          (secret === undefined || !err.message.includes(secret)),
      );
    refused({ TARGETS_USERNAME: TARGETS.username }, /^TARGETS_PASSWORD: is required/);
    refused({ TARGETS_PASSWORD: TARGETS.password }, /^TARGETS_USERNAME: is required/, TARGETS.password);
    refused({ TARGETS_USERNAME: 'sd', TARGETS_PASSWORD: 'prometheus' }, /^TARGETS_PASSWORD: is too weak/, 'prometheus');
    refused({ METRICS_USERNAME: 'm', METRICS_PASSWORD: 'short-pw' }, /^METRICS_PASSWORD: is too weak/, 'short-pw');
    refused(
      { BROKER_PREVIOUS_USERNAME: 'old', BROKER_PREVIOUS_PASSWORD: 'change-me' },
      /^BROKER_PREVIOUS_PASSWORD: is too weak/,
      'change-me',
    );
  });

  it('refuses to start with half a previous pair, naming the missing variable and never the secret', () => {
    assert.throws(
      () =>
        loadConfig(
          {
            BROKER_USERNAME: CURRENT.username,
            BROKER_PASSWORD: CURRENT.password,
            BROKER_PREVIOUS_USERNAME: PREVIOUS.username,
          },
          { brokerCredentials: true },
        ),
      (err: unknown) => err instanceof ConfigError && /^BROKER_PREVIOUS_PASSWORD: is required/.test(err.message),
    );
    assert.throws(
      () =>
        loadConfig(
          {
            BROKER_USERNAME: CURRENT.username,
            BROKER_PASSWORD: CURRENT.password,
            BROKER_PREVIOUS_PASSWORD: PREVIOUS.password,
          },
          { brokerCredentials: true },
        ),
      (err: unknown) =>
        err instanceof ConfigError &&
        /^BROKER_PREVIOUS_USERNAME/.test(err.message) &&
        !err.message.includes(PREVIOUS.password),
    );
  });

  it('protects /metrics with METRICS_USERNAME/PASSWORD when set, and then not with the broker credentials', async () => {
    const http = await broker({ METRICS_USERNAME: METRICS.username, METRICS_PASSWORD: METRICS.password });
    const ok = await http.get('/metrics').set('Authorization', basic(METRICS)).expect(200);
    assert.match(ok.text, /cf_app_discovery_/);
    await http.get('/metrics').set('Authorization', basic(CURRENT)).expect(401);
    await call(http, 'get', '/v2/catalog', basic(METRICS)).expect(401);
  });

  it('sends security headers on every kind of answer: success, refusal, not found, too large, health', async () => {
    const http = await broker();
    const answers = [
      await http.get('/healthz'),
      await call(http, 'get', '/v2/catalog', basic(CURRENT)),
      await call(http, 'get', '/v2/catalog'),
      await call(http, 'get', '/v2/service_instances/unknown', basic(CURRENT)),
      await http.get('/no-such-page'),
      await call(http, 'put', '/v2/service_instances/i-big', basic(CURRENT))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ pad: 'x'.repeat(70_000) })),
    ];
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 401, 404, 401, 413],
    );
    for (const res of answers) {
      const where = `${res.status} ${res.request.url}`;
      assert.equal(res.get('X-Content-Type-Options'), 'nosniff', where);
      assert.equal(res.get('X-Frame-Options'), 'DENY', where);
      assert.equal(res.get('Content-Security-Policy'), "default-src 'none';frame-ancestors 'none'", where);
      assert.equal(res.get('Cache-Control'), 'no-store', where);
      assert.match(res.get('Strict-Transport-Security') ?? '', /max-age=\d+/, where);
      assert.equal(res.get('Referrer-Policy'), 'no-referrer', where);
      assert.equal(res.get('X-Powered-By'), undefined, where);
      assert.match(res.get('Content-Type') ?? '', /^application\/json/, where);
    }
  });

  it('refuses oversized headers with 431 before any handler, and keeps serving', async () => {
    const built =
      brokers.at(-1) ??
      buildBroker(
        loadConfig(
          { BROKER_USERNAME: CURRENT.username, BROKER_PASSWORD: CURRENT.password, STORE_DIR: join(dir, 'h') },
          { brokerCredentials: true },
        ),
        logger,
      );
    const server = built.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/v2/catalog',
            headers: { Authorization: basic(CURRENT), 'X-Padding': 'y'.repeat(20_000) },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 431);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('never logs a password or an Authorization header, of any pair, after every request above', () => {
    assert.ok(logs.length > 100, `the brokers logged (${logs.length} lines)`);
    const secrets = [CURRENT, PREVIOUS, METRICS].flatMap((c) => [
      c.password,
      Buffer.from(`${c.username}:${c.password}`).toString('base64'),
    ]);
    for (const line of logs) {
      for (const secret of secrets)
        assert.ok(!line.includes(secret), `a log line holds a secret: ${line.slice(0, 200)}`);
      assert.ok(
        !/"authorization"\s*:\s*"Basic /i.test(line),
        `a log line holds an Authorization header: ${line.slice(0, 200)}`,
      );
    }
  });
});
