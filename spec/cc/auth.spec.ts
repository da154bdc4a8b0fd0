import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CcAuthError, CcError, CloudControllerClient, TokenProvider } from '../../shared/cc';
import { trustedTokenEndpoint } from '../../shared/cc/uaa';
import type { CcEmulator } from '../../emulator';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  Platform,
  READER,
  READER_PASSWORD,
  readerClient,
  rejection,
  seedPlatform,
  seen,
  startEmulator,
} from './fixtures';

describe('Cloud Controller client: UAA tokens', function () {
  this.timeout(15_000);
  let cc: CcEmulator;
  let platform: Platform;

  before(async () => {
    cc = await startEmulator();
    platform = seedPlatform(cc, 3);
  });
  after(async () => cc?.stop());
  beforeEach(() => cc.resetRequests());
  afterEach(() => cc.clearFaults());

  it('discovers UAA from GET / (links.login) and gets a password-grant token without narrowing the scope', async () => {
    const client = readerClient(cc);
    const { app, space, organization } = await client.getApp(platform.apps[0]);
    assert.equal(app.name, 'app-0');
    assert.equal(space?.name, 'space-a');
    assert.equal(organization?.name, 'org-a');
    assert.deepEqual(
      cc.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
      ['GET / 200', 'POST /oauth/token 200', `GET /v3/apps/${app.guid} 200`],
    );
    const form = seen(cc, /^\/oauth\/token$/)[0].form!;
    assert.equal(form.grant_type, 'password');
    assert.equal(form.username, READER);
    assert.equal(form.scope, undefined, "a scope parameter would take away a global auditor's global view");
    assert.equal(client.uaaRequestCount, 1);
  });

  it('never posts CF credentials to a login server the CC names over plain http on another origin; says to set UAA_URL', async () => {
    // Another origin on this host (localhost is not 127.0.0.1), standing in for http://other-host.
    const received: string[] = [];
    const elsewhere = createServer((req, res) => {
      received.push(`${req.method} ${req.url}`);
      res.writeHead(500).end();
    });
    const port = await new Promise<number>((r) =>
      elsewhere.listen(0, '127.0.0.1', () => r((elsewhere.address() as AddressInfo).port)),
    );
    cc.loginHref = `http://localhost:${port}`;
    try {
      const err = await rejection(readerClient(cc).getApp(platform.apps[0]));
      assert.ok(err instanceof CcAuthError, String(err));
      assert.match(err.message, new RegExp(`named http://localhost:${port} as its login server, over plain http`));
      assert.match(err.message, /Set UAA_URL/);
      assert.doesNotMatch(err.message, new RegExp(READER_PASSWORD));
      assert.deepEqual(received, [], 'credentials went to a server the operator never named');
      assert.deepEqual(seen(cc, /^\/oauth\/token$/), []);
    } finally {
      cc.loginHref = undefined;
      await new Promise((r) => elsewhere.close(r));
    }
  });

  it("trusts a discovered login server over https or on the CC's own origin, and UAA_URL as the operator set it", () => {
    const api = 'http://api.sys.example.com';
    assert.equal(trustedTokenEndpoint('https://login.sys.example.com/', api), 'https://login.sys.example.com');
    assert.equal(trustedTokenEndpoint('http://api.sys.example.com/uaa', api), 'http://api.sys.example.com/uaa');
    for (const refused of [
      'http://login.sys.example.com',
      'http://api.sys.example.com:8080',
      'ftp://api.sys.example.com',
      'not a url',
      'https://u:p@login.sys.example.com',
    ]) {
      assert.throws(() => trustedTokenEndpoint(refused, api), CcAuthError, refused);
    }
  });

  it('uses an explicit UAA URL without asking the Cloud Controller for it', async () => {
    const client = readerClient(cc, { uaaUrl: cc.url });
    await client.getApp(platform.apps[0]);
    assert.deepEqual(seen(cc, /^\/$/), []);
    assert.equal(seen(cc, /^\/oauth\/token$/).length, 1);
  });

  it('gets a client-credentials token with the client id and secret', async () => {
    cc.grantSpaceRole(CLIENT_ID, platform.spaceGuid);
    const client = readerClient(cc, { auth: { kind: 'client', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET } });
    const { apps } = await client.listApps({ guids: platform.apps });
    assert.equal(apps.length, 3);
    const form = seen(cc, /^\/oauth\/token$/)[0].form!;
    assert.equal(form.grant_type, 'client_credentials');
    assert.equal(seen(cc, /^\/v3\/apps$/)[0].user, CLIENT_ID);
  });

  it('fails with CcAuthError naming the client, never the secret, when UAA refuses client credentials', async () => {
    const client = readerClient(cc, { auth: { kind: 'client', clientId: CLIENT_ID, clientSecret: 'bad-secret-456' } });
    const err = await rejection(client.listProcesses({ appGuids: platform.apps }));
    assert.ok(err instanceof CcAuthError, String(err));
    assert.match(err.message, new RegExp(CLIENT_ID));
    assert.doesNotMatch(err.message, /bad-secret-456/);
  });

  it('reuses one token for many calls, and concurrent first callers share one token request', async () => {
    const client = readerClient(cc);
    await Promise.all(platform.apps.map((guid) => client.getApp(guid)));
    for (let i = 0; i < 10; i++) await client.listProcesses({ appGuids: [platform.apps[i % 3]] });
    assert.equal(client.uaaRequestCount, 1);
    assert.equal(seen(cc, /^\/oauth\/token$/).length, 1);
    assert.equal(seen(cc, /^\/$/).length, 1, 'UAA is discovered once');
    assert.equal(client.requestCount, 13, 'three apps and ten process listings');
  });

  it('after a 401 CF-InvalidAuthToken refreshes the token once and repeats the call transparently', async () => {
    const client = readerClient(cc);
    await client.getApp(platform.apps[0]);
    cc.expireAllTokens();
    cc.resetRequests();
    const { app } = await client.getApp(platform.apps[1]);
    assert.equal(app.guid, platform.apps[1]);
    assert.deepEqual(
      cc.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
      [`GET /v3/apps/${app.guid} 401`, 'POST /oauth/token 200', `GET /v3/apps/${app.guid} 200`],
    );
    assert.equal(
      seen(cc, /^\/oauth\/token$/)[0].form!.grant_type,
      'refresh_token',
      'the refresh token is used, not the password',
    );
    assert.equal(client.uaaRequestCount, 2);
  });

  it('concurrent calls that all meet an expired token cause one refresh between them', async () => {
    const client = readerClient(cc);
    await client.getApp(platform.apps[0]);
    cc.expireAllTokens();
    cc.resetRequests();
    await Promise.all(platform.apps.map((guid) => client.getApp(guid)));
    assert.equal(seen(cc, /^\/oauth\/token$/).length, 1);
    assert.equal(seen(cc, /^\/v3\/apps\//).filter((r) => r.status === 200).length, 3);
  });

  it('gives up with CcAuthError when the Cloud Controller refuses even a fresh token', async () => {
    const client = readerClient(cc);
    cc.injectFault({
      match: /^\/v3\/apps\//,
      status: 401,
      times: Infinity,
      body: '{"errors":[{"detail":"Invalid Auth Token","title":"CF-InvalidAuthToken","code":1000}]}',
    });
    const err = await rejection(client.getApp(platform.apps[0]));
    assert.ok(err instanceof CcAuthError, String(err));
    assert.equal((err as CcAuthError).status, 401);
    assert.equal(seen(cc, /^\/v3\/apps\//).length, 2, 'one retry with a new token, no more');
    assert.equal(client.uaaRequestCount, 2);
    assert.doesNotMatch(err.message, new RegExp(READER_PASSWORD));
  });

  it('a UAA outage is a CcError but not an auth error: the credentials are not to blame', async () => {
    cc.injectFault({ match: '/oauth/token', status: 503, times: Infinity });
    const err = await rejection(readerClient(cc).getApp(platform.apps[0]));
    assert.ok(err instanceof CcError, String(err));
    assert.ok(!(err instanceof CcAuthError), `${err.name}: ${err.message}`);
  });

  it('does not use the Cloud Controller at all for the token once UAA is known', async () => {
    const client = new CloudControllerClient({
      apiUrl: cc.url,
      uaaUrl: cc.url,
      auth: { kind: 'password', username: READER, password: READER_PASSWORD },
    });
    await client.listRoutes({ appGuids: platform.apps });
    assert.deepEqual(
      cc.requests.map((r) => r.path),
      ['/oauth/token', '/v3/routes'],
    );
  });

  describe('TokenProvider refresh timing (injected clock)', () => {
    let now = 0;
    const provider = (auth: ConstructorParameters<typeof TokenProvider>[0]['auth']) =>
      new TokenProvider({ apiUrl: cc.url, uaaUrl: cc.url, auth, timeoutMs: 2_000, now: () => now });

    it('keeps the token for most of its lifetime, then refreshes it before it expires', async () => {
      now = 1_000_000;
      const tokens = provider({ kind: 'password', username: READER, password: READER_PASSWORD });
      const first = await tokens.get();
      now += 1_000 * 1_000; // 1000 s of a 1199 s token: still well inside its life
      assert.equal(await tokens.get(), first);
      assert.equal(tokens.requestCount, 1);
      now += 150 * 1_000; // 1150 s: less than 10 % of the lifetime left
      const second = await tokens.get();
      assert.notEqual(second, first);
      assert.equal(tokens.requestCount, 2);
      assert.deepEqual(
        seen(cc, /^\/oauth\/token$/).map((r) => r.form!.grant_type),
        ['password', 'refresh_token'],
      );
    });

    it('falls back to a new client-credentials grant: that grant has no refresh token', async () => {
      now = 5_000_000;
      cc.grantSpaceRole(CLIENT_ID, platform.spaceGuid);
      const tokens = provider({ kind: 'client', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
      const first = await tokens.get();
      tokens.invalidate('some-older-token');
      assert.equal(await tokens.get(), first, 'a 401 for a token already replaced keeps the current one');
      tokens.invalidate(first);
      assert.notEqual(await tokens.get(), first);
      assert.deepEqual(
        seen(cc, /^\/oauth\/token$/).map((r) => r.form!.grant_type),
        ['client_credentials', 'client_credentials'],
      );
    });
  });
});
