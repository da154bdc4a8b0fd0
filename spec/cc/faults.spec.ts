import assert from 'node:assert/strict';
import { CcApiError, CcBadResponseError, CcRateLimitedError, CcUnavailableError } from '../../shared/cc';
import type { CcEmulator } from '../../emulator';
import {
  Platform,
  READER_PASSWORD,
  readerClient,
  rejection,
  seedPlatform,
  seen,
  startEmulator,
  timed,
} from './fixtures';

const APP_PATH = /^\/v3\/apps\/[^/]+$/;

describe('Cloud Controller client: throttling, outages, timeouts and bad answers', function () {
  this.timeout(20_000);
  let cc: CcEmulator;
  let platform: Platform;

  before(async () => {
    cc = await startEmulator();
    platform = seedPlatform(cc, 2);
  });
  after(async () => cc?.stop());
  afterEach(() => cc.clearFaults());

  /** A client that already holds a token, so the counts below are CC calls only. */
  async function warmClient(over: Parameters<typeof readerClient>[1] = {}) {
    const client = readerClient(cc, over);
    await client.getApp(platform.apps[0]);
    cc.resetRequests();
    return client;
  }

  it('without Retry-After, a 429 is judged by X-RateLimit-Reset: a reset a minute away is refused at once', async () => {
    const client = await warmClient({ maxRetryAfterMs: 5_000 });
    cc.injectFault({ match: APP_PATH, status: 429 }); // the emulator then sets X-RateLimit-Reset to now + 60 s
    const { ms, error } = await timed(() => client.getApp(platform.apps[1]));
    assert.ok(error instanceof CcRateLimitedError, String(error));
    assert.ok(error.retryAfterMs! > 55_000 && error.retryAfterMs! <= 61_000, `retryAfterMs ${error.retryAfterMs}`);
    assert.ok(ms < 1_000, `took ${ms.toFixed(0)} ms`);
    assert.equal(seen(cc, APP_PATH).length, 1);
  });

  it('gives up with CcRateLimitedError after a bounded number of waits', async () => {
    const client = await warmClient();
    cc.injectFault({ match: APP_PATH, status: 429, retryAfterSeconds: 0, times: Infinity });
    const err = await rejection(client.getApp(platform.apps[1]));
    assert.ok(err instanceof CcRateLimitedError, String(err));
    const attempts = seen(cc, APP_PATH).length;
    assert.ok(attempts >= 2 && attempts <= 5, `${attempts} attempts`);
  });

  it('a Cloud Controller that stays down is a CcUnavailableError after the configured retries', async () => {
    const client = await warmClient({ retries: 2 });
    cc.injectFault({ match: /^\/v3\/processes$/, status: 503, times: Infinity });
    const err = await rejection(client.listProcesses({ appGuids: platform.apps }));
    assert.ok(err instanceof CcUnavailableError, String(err));
    assert.equal(err.status, 503);
    assert.equal(err.title, 'CF-ServiceUnavailable');
    assert.equal(err.code, 10015);
    assert.equal(seen(cc, /^\/v3\/processes$/).length, 3, 'one try and two retries');
  });

  it('an unreachable Cloud Controller is a CcUnavailableError', async () => {
    const client = readerClient(cc, { apiUrl: 'http://127.0.0.1:1', uaaUrl: cc.url, retries: 1 });
    const err = await rejection(client.getApp(platform.apps[0]));
    assert.ok(err instanceof CcUnavailableError, String(err));
    assert.match(err.message, /ECONNREFUSED/);
  });

  it('a 200 whose body is not JSON is a CcBadResponseError', async () => {
    const client = await warmClient();
    cc.injectFault({
      match: APP_PATH,
      status: 200,
      body: '<html><body>Welcome to nginx!</body></html>',
      contentType: 'text/html',
    });
    const err = await rejection(client.getApp(platform.apps[1]));
    assert.ok(err instanceof CcBadResponseError, String(err));
    assert.equal(seen(cc, APP_PATH).length, 1);
  });

  it('a 200 that is JSON but not an app is a CcBadResponseError', async () => {
    const client = await warmClient();
    cc.injectFault({ match: APP_PATH, status: 200, body: '{"hello":"world"}', contentType: 'application/json' });
    const err = await rejection(client.getApp(platform.apps[1]));
    assert.ok(err instanceof CcBadResponseError, String(err));
  });

  it('a deleted app is a CcApiError that isNotFound, as is an app the user has no role to see', async () => {
    const client = await warmClient();
    const gone = cc.addApp({ name: 'short-lived', spaceGuid: platform.spaceGuid });
    assert.equal((await client.getApp(gone.guid)).app.name, 'short-lived');
    cc.deleteApp(gone.guid);
    const err = await rejection(client.getApp(gone.guid));
    assert.ok(err instanceof CcApiError && err.isNotFound(), String(err));
    assert.equal(err.code, 10010);
    assert.equal(err.detail, 'App not found');

    const secretSpace = cc.addSpace(platform.orgGuid, 'no-role-here');
    const hidden = cc.addApp({ name: 'hidden', spaceGuid: secretSpace.guid });
    const hiddenErr = await rejection(client.getApp(hidden.guid));
    assert.ok(hiddenErr instanceof CcApiError && hiddenErr.isNotFound(), String(hiddenErr));
    assert.ok(!hiddenErr.isForbidden());
  });

  it('v2 is off: a v2 path is a 404 CcApiError', async () => {
    const client = await warmClient();
    const err = await rejection(client.getJson(`${cc.url}/v2/apps`));
    assert.ok(err instanceof CcApiError, String(err));
    assert.equal(err.status, 404);
  });

  it('never puts the token or the password into an error', async () => {
    const client = await warmClient({ retries: 0 });
    cc.injectFault({ match: APP_PATH, status: 500, times: Infinity });
    const errors = [await rejection(client.getApp(platform.apps[1]))];
    cc.clearFaults();
    cc.injectFault({ match: APP_PATH, status: 429, retryAfterSeconds: 999 });
    errors.push(await rejection(client.getApp(platform.apps[1])));
    cc.clearFaults();
    cc.injectFault({ match: APP_PATH, status: 401, times: Infinity });
    errors.push(await rejection(client.getApp(platform.apps[1])));
    for (const err of errors) {
      const text = `${err.message} ${JSON.stringify({ ...err })}`;
      assert.doesNotMatch(text, new RegExp(READER_PASSWORD));
      assert.doesNotMatch(text, /bearer/i);
      assert.doesNotMatch(text, /[0-9a-f]{48}/, "the emulator's tokens are 48 hex digits");
    }
  });
});
