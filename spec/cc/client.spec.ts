import assert from 'node:assert/strict';
import {
  CcApiError,
  CcAuthError,
  CcBadResponseError,
  CcIncompleteError,
  CcRateLimitedError,
  CcUnavailableError,
  CloudControllerClient,
} from '../../shared/cc';
import { CcEmulator } from '../../emulator';

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}

describe('Cloud Controller v3 client against the emulator over HTTP', function () {
  this.timeout(20_000);
  let cc: CcEmulator;
  let url: string;
  let apps: string[];
  const client = (over: Partial<ConstructorParameters<typeof CloudControllerClient>[0]> = {}) =>
    new CloudControllerClient({
      apiUrl: url,
      auth: { kind: 'password', username: 'reader', password: 'reader-pw' },
      retries: 1,
      ...over,
    });

  before(async () => {
    cc = new CcEmulator();
    url = await cc.start();
    cc.addUser('reader', 'reader-pw');
    cc.addClient('prom-client', 'client-secret');
    const org = cc.addOrg('org');
    const space = cc.addSpace(org.guid, 'space');
    cc.grantSpaceRole('reader', space.guid);
    cc.grantSpaceRole('prom-client', space.guid);
    const domain = cc.addDomain('apps.example.com');
    apps = Array.from({ length: 7 }, (_, i) => {
      const app = cc.addApp({ name: `app-${i}`, spaceGuid: space.guid, instances: i + 1 });
      cc.mapRoute(cc.addRoute({ host: `app-${i}`, domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
      return app.guid;
    });
  });
  after(() => cc.stop());
  beforeEach(() => {
    cc.clearFaults();
    cc.resetRequests();
    cc.tokenTtlSeconds = 1199;
  });

  it('discovers UAA from GET / (links.login), takes a password-grant token and reuses it', async () => {
    const c = client();
    const got = await c.getApp(apps[0]);
    assert.equal(got.app.name, 'app-0');
    assert.equal(got.space?.name, 'space');
    assert.equal(got.organization?.name, 'org');
    await c.listProcesses({ appGuids: apps });
    await c.listRoutes({ appGuids: apps });
    assert.equal(c.uaaRequestCount, 1, 'one token for many calls');
    assert.equal(cc.requests.filter((r) => r.path === '/oauth/token').length, 1);
    assert.equal(cc.requests.filter((r) => r.path === '/').length, 1);
  });

  it('uses the client-credentials grant for a UAA client', async () => {
    const c = client({ auth: { kind: 'client', clientId: 'prom-client', clientSecret: 'client-secret' } });
    assert.equal((await c.listApps({ guids: apps })).apps.length, 7);
  });

  it('reports bad credentials as CcAuthError naming the user, never the password', async () => {
    const err = await rejection(
      client({ auth: { kind: 'password', username: 'reader', password: 'wrong-pw-123' } }).getApp(apps[0]),
    );
    assert.ok(err instanceof CcAuthError, String(err));
    assert.match(err.message, /user "reader"/);
    assert.ok(!err.message.includes('wrong-pw-123'));
  });

  it('gets a new token once on 401 CF-InvalidAuthToken and carries on', async () => {
    const c = client();
    await c.getApp(apps[0]);
    cc.expireAllTokens();
    assert.equal((await c.getApp(apps[1])).app.name, 'app-1');
    assert.equal(c.uaaRequestCount, 2);
  });

  it('refreshes a token that is about to expire before using it', async () => {
    cc.tokenTtlSeconds = 30; // less than the refresh margin: every call refreshes first
    const c = client();
    await c.getApp(apps[0]);
    await c.getApp(apps[1]);
    assert.equal(c.uaaRequestCount, 2);
    assert.ok(cc.requests.filter((r) => r.status === 401).length === 0, 'never sent an expired token');
  });

  it('follows next.href (with %2C-escaped guid lists) across pages and merges included resources', async () => {
    const c = client();
    const { apps: got, spaces, organizations } = await c.listApps({ guids: apps, perPage: 2 });
    assert.deepEqual(
      got.map((a) => a.name),
      apps.map((_, i) => `app-${i}`),
    );
    assert.equal(spaces.length, 1);
    assert.equal(organizations.length, 1);
    const pages = cc.requests.filter((r) => r.path === '/v3/apps');
    assert.equal(pages.length, 4);
    assert.match(pages[1].query, /guids=[^&]*%2C/);
  });

  it('treats a truncated single-page answer as an incomplete listing', async () => {
    // Across several pages the count is not checked: the platform changes between pages
    // (spec/cc/pagination.spec.ts); one page contradicting its own total_results is broken.
    cc.injectTruncatedPage('/v3/processes');
    const err = await rejection(client().listProcesses({ appGuids: apps }));
    assert.ok(err instanceof CcIncompleteError, String(err));
    assert.match(err.message, /incomplete/);
  });

  it('treats a body cut mid-JSON as a bad response', async () => {
    cc.injectFault({ match: '/v3/routes', kind: 'cut' });
    const err = await rejection(client().listRoutes({ appGuids: apps }));
    assert.ok(err instanceof CcBadResponseError, String(err));
  });

  it('waits for Retry-After on 429 (text/plain body) and then succeeds', async () => {
    const c = client();
    await c.getApp(apps[0]); // token first, so timing covers only the 429
    cc.injectFault({ match: '/v3/apps', status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    assert.equal((await c.getApp(apps[2])).app.name, 'app-2');
    assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms`);
  });

  it('gives up at once with CcRateLimitedError when Retry-After is longer than it may wait', async () => {
    cc.injectFault({ match: '/v3/apps', status: 429, retryAfterSeconds: 120 });
    const started = Date.now();
    const err = await rejection(client({ maxRetryAfterMs: 5000 }).getApp(apps[0]));
    assert.ok(err instanceof CcRateLimitedError, String(err));
    assert.equal(err.retryAfterMs, 120_000);
    assert.ok(Date.now() - started < 2000);
  });

  it('retries a 503 once and succeeds; a lasting 503 is CcUnavailableError', async () => {
    cc.injectFault({ match: '/v3/apps', status: 503, times: 1 });
    assert.equal((await client().getApp(apps[0])).app.name, 'app-0');
    cc.injectFault({ match: '/v3/apps', status: 503, times: Infinity });
    const err = await rejection(client().getApp(apps[0]));
    assert.ok(err instanceof CcUnavailableError, String(err));
    assert.match(err.message, /503 CF-ServiceUnavailable/);
  });

  it('turns a 502 HTML page into CcUnavailableError', async () => {
    cc.injectFault({ match: '/v3/routes', status: 502, times: Infinity });
    assert.ok((await rejection(client({ retries: 0 }).listRoutes({ appGuids: apps }))) instanceof CcUnavailableError);
  });

  it('times out a CC that never answers, within about the deadline', async () => {
    const c = client({ timeoutMs: 500, retries: 0 });
    await c.getApp(apps[0]);
    cc.injectTimeout('/v3/apps');
    const started = Date.now();
    const err = await rejection(c.getApp(apps[0]));
    assert.ok(err instanceof CcUnavailableError, String(err));
    assert.match(err.message, /no answer within 500 ms/);
    assert.ok(Date.now() - started < 1500);
  });

  it('reports an app it cannot see as not found, and a deleted one too', async () => {
    const org = cc.addOrg('other');
    const hidden = cc.addApp({ name: 'hidden', spaceGuid: cc.addSpace(org.guid, 'x').guid });
    const err = await rejection(client().getApp(hidden.guid));
    assert.ok(err instanceof CcApiError && err.isNotFound(), String(err));
    assert.equal(err.title, 'CF-ResourceNotFound');
    assert.equal(
      (await client().listApps({ guids: [hidden.guid, apps[0]] })).apps.length,
      1,
      'invisible apps are left out of lists',
    );
    const space = cc.addSpace(cc.addOrg('gone-org').guid, 'gone');
    cc.grantSpaceRole('reader', space.guid);
    const doomed = cc.addApp({ name: 'doomed', spaceGuid: space.guid });
    assert.equal((await client().getApp(doomed.guid)).app.name, 'doomed');
    cc.deleteApp(doomed.guid);
    const gone = await rejection(client().getApp(doomed.guid));
    assert.ok(gone instanceof CcApiError && gone.isNotFound(), String(gone));
  });

  it('never calls /v2', async () => {
    const c = client();
    await c.getApp(apps[0]);
    await c.listApps({ guids: apps });
    assert.ok(cc.requests.every((r) => !r.path.startsWith('/v2')));
  });
});
