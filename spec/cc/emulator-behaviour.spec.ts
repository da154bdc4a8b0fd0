import assert from 'node:assert/strict';
import type { CcEmulator } from '../../emulator';
import { waitFor } from '../support/real-component';
import { Platform, READER, READER_PASSWORD, readerClient, seedPlatform, startEmulator, timed } from './fixtures';

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON under test: `any` so each test can reach into the documented shape it asserts. */
  json: any;
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('CC v3 + UAA emulator: UAA, state changes, query rules and scale (plain HTTP)', function () {
  this.timeout(30_000);
  let cc: CcEmulator;
  let platform: Platform;
  let token: string;

  async function call(path: string, init: RequestInit = {}): Promise<Reply> {
    const res = await fetch(`${cc.url}${path}`, init);
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }
  const get = (path: string) => call(path, { headers: { Authorization: `bearer ${token}` } });
  const grant = (form: Record<string, string>, auth = basic('cf', '')) =>
    call('/oauth/token', {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });

  before(async () => {
    cc = await startEmulator();
    platform = seedPlatform(cc, 3, { instances: 3 });
    token = (await grant({ grant_type: 'password', username: READER, password: READER_PASSWORD })).json.access_token;
  });
  after(async () => cc?.stop());
  afterEach(() => cc.clearFaults());

  describe('root, UAA and authentication', () => {
    it('GET / needs no token and points login and uaa at this server', async () => {
      const { status, json } = await call('/');
      assert.equal(status, 200);
      assert.equal(json.links.self.href, cc.url);
      assert.equal(json.links.cloud_controller_v3.href, `${cc.url}/v3`);
      assert.equal(json.links.login.href, cc.url);
      assert.equal(json.links.uaa.href, cc.url);
      assert.equal(json.links.cloud_controller_v2, undefined, 'v2 is off');
    });

    it('issues tokens with expires_in 1199 and a refresh token for the password grant', async () => {
      const { status, json } = await grant({ grant_type: 'password', username: READER, password: READER_PASSWORD });
      assert.equal(status, 200);
      assert.equal(json.token_type, 'bearer');
      assert.equal(json.expires_in, 1199);
      assert.equal(typeof json.refresh_token, 'string');
      const refreshed = await grant({ grant_type: 'refresh_token', refresh_token: json.refresh_token });
      assert.equal(refreshed.status, 200);
      assert.notEqual(refreshed.json.access_token, json.access_token);
    });

    it('answers bad credentials with 401, WWW-Authenticate and the OAuth error body', async () => {
      const { status, headers, json } = await grant({ grant_type: 'password', username: READER, password: 'nope' });
      assert.equal(status, 401);
      assert.match(headers.get('www-authenticate') ?? '', /^Basic error="unauthorized"/);
      assert.deepEqual(json, { error: 'unauthorized', error_description: 'Bad credentials' });
      assert.equal(
        (await grant({ grant_type: 'password', username: READER, password: READER_PASSWORD }, basic('not-cf', '')))
          .status,
        401,
      );
    });

    it('refuses a missing token with CF-NotAuthenticated and an unknown or expired one with CF-InvalidAuthToken', async () => {
      const missing = await call(`/v3/apps/${platform.apps[0]}`);
      assert.equal(missing.status, 401);
      assert.deepEqual(missing.json.errors[0], {
        detail: 'Authentication error',
        title: 'CF-NotAuthenticated',
        code: 10002,
      });
      const unknown = await call(`/v3/apps/${platform.apps[0]}`, { headers: { Authorization: 'bearer not-a-token' } });
      assert.equal(unknown.status, 401);
      assert.equal(unknown.json.errors[0].title, 'CF-InvalidAuthToken');
      assert.equal(unknown.json.errors[0].code, 1000);
    });

    it('expires tokens after their lifetime', async () => {
      const short = await startEmulator({ tokenTtlSeconds: 1 });
      try {
        const t = await fetch(`${short.url}/oauth/token`, {
          method: 'POST',
          headers: { Authorization: basic('cf', ''), 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'password', username: READER, password: READER_PASSWORD }).toString(),
        }).then((r) => r.json() as Promise<{ access_token: string; expires_in: number }>);
        assert.equal(t.expires_in, 1);
        const ask = () =>
          fetch(`${short.url}/v3/apps`, { headers: { Authorization: `bearer ${t.access_token}` } }).then(
            (r) => r.status,
          );
        assert.equal(await ask(), 200);
        // Expiry is on the emulator's clock: ask until it answers 401, well past the 1 s lifetime.
        assert.equal(
          await waitFor(async () => ((await ask()) === 401 ? 401 : undefined), 5_000, 'the token to expire'),
          401,
        );
      } finally {
        await short.stop();
      }
    });

    it('answers /v2/* with 404 "V2 endpoints disabled", but still serves /v2/info', async () => {
      const v2 = await get('/v2/apps');
      assert.equal(v2.status, 404);
      assert.match(v2.text, /V2 endpoints disabled/);
      const info = await call('/v2/info');
      assert.equal(info.status, 200);
      assert.equal(info.json.support, 'CF API v2 is disabled');
    });
  });

  describe('v3 resources and state changes', () => {
    it('includes the space and organization of a single app as top-level included', async () => {
      const { json } = await get(`/v3/apps/${platform.apps[1]}?include=space.organization`);
      assert.equal(json.relationships.space.data.guid, platform.spaceGuid);
      assert.deepEqual(
        json.included.spaces.map((s: { guid: string }) => s.guid),
        [platform.spaceGuid],
      );
      assert.deepEqual(
        json.included.organizations.map((o: { guid: string }) => o.guid),
        [platform.orgGuid],
      );
    });

    it('lists two web processes during a rolling deploy; /processes/web is the newer one; one remains after', async () => {
      const guid = platform.apps[1];
      const newer = cc.startRollingDeploy(guid, 5);
      const during = await get(`/v3/processes?app_guids=${guid}&types=web`);
      assert.equal(during.json.resources.length, 2);
      const [first, second] = during.json.resources;
      assert.ok(second.created_at > first.created_at, 'newer created_at');
      assert.deepEqual([first.instances, second.instances], [3, 5]);
      assert.equal((await get(`/v3/apps/${guid}/processes/web`)).json.guid, newer.guid);
      cc.finishRollingDeploy(guid);
      const after = await get(`/v3/apps/${guid}/processes?types=web`);
      assert.deepEqual(
        after.json.resources.map((p: { guid: string }) => p.guid),
        [newer.guid],
      );
    });

    it('a route listed by app_guids shows the destinations of other apps too', async () => {
      const [a, b] = platform.apps;
      const shared = cc.addRoute({
        host: 'shared',
        domainGuid: platform.domainGuid,
        spaceGuid: platform.spaceGuid,
        path: '/api',
      });
      cc.mapRoute(shared.guid, a);
      cc.mapRoute(shared.guid, b, 'worker');
      const { json } = await get(`/v3/routes?app_guids=${a}&include=domain`);
      const route = json.resources.find((r: { guid: string }) => r.guid === shared.guid);
      assert.equal(route.url, 'shared.apps.example.com/api');
      assert.deepEqual(
        route.destinations.map((d: { app: { guid: string; process: { type: string } } }) => [
          d.app.guid,
          d.app.process.type,
        ]),
        [
          [a, 'web'],
          [b, 'worker'],
        ],
      );
      assert.deepEqual(
        json.included.domains.map((d: { name: string }) => d.name),
        ['apps.example.com'],
      );
      cc.unmapRoute(shared.guid, b);
      const after = await get(`/v3/routes?app_guids=${b}`);
      assert.ok(!after.json.resources.some((r: { guid: string }) => r.guid === shared.guid));
    });

    it('marks internal domains, and gives tcp routes a port and a domain:port url', async () => {
      const internal = cc.addDomain('apps.internal', { internal: true });
      const tcp = cc.addDomain('tcp.example.com', { protocols: ['tcp'] });
      const guid = platform.apps[2];
      cc.mapRoute(cc.addRoute({ host: 'c2c', domainGuid: internal.guid, spaceGuid: platform.spaceGuid }).guid, guid);
      cc.mapRoute(
        cc.addRoute({ host: '', domainGuid: tcp.guid, spaceGuid: platform.spaceGuid, port: 1030 }).guid,
        guid,
      );
      const { json } = await get(`/v3/routes?app_guids=${guid}&include=domain`);
      const byDomain = new Map(json.included.domains.map((d: { guid: string }) => [d.guid, d]));
      const c2c = json.resources.find((r: { host: string }) => r.host === 'c2c');
      assert.equal((byDomain.get(c2c.relationships.domain.data.guid) as { internal: boolean }).internal, true);
      const tcpRoute = json.resources.find((r: { protocol: string }) => r.protocol === 'tcp');
      assert.equal(tcpRoute.port, 1030);
      assert.equal(tcpRoute.url, 'tcp.example.com:1030');
      assert.equal(c2c.port, null);
    });

    it('scale and rename show up in the next answer', async () => {
      const guid = platform.apps[2];
      cc.scale(guid, 7);
      cc.rename(guid, 'renamed');
      assert.equal((await get(`/v3/apps/${guid}`)).json.name, 'renamed');
      assert.equal((await get(`/v3/apps/${guid}/processes/web`)).json.instances, 7);
    });

    it('a deleted app is 404 CF-ResourceNotFound and gone from lists and route destinations', async () => {
      const doomed = cc.addApp({ name: 'doomed', spaceGuid: platform.spaceGuid });
      const route = cc.addRoute({ host: 'doomed', domainGuid: platform.domainGuid, spaceGuid: platform.spaceGuid });
      cc.mapRoute(route.guid, doomed.guid);
      cc.mapRoute(route.guid, platform.apps[0]);
      cc.deleteApp(doomed.guid);
      const single = await get(`/v3/apps/${doomed.guid}`);
      assert.equal(single.status, 404);
      assert.deepEqual(single.json.errors[0], { detail: 'App not found', title: 'CF-ResourceNotFound', code: 10010 });
      assert.equal((await get(`/v3/apps?guids=${doomed.guid}`)).json.resources.length, 0);
      assert.equal((await get(`/v3/processes?app_guids=${doomed.guid}`)).json.resources.length, 0);
      const { json } = await get(`/v3/routes?app_guids=${platform.apps[0]}`);
      const kept = json.resources.find((r: { guid: string }) => r.guid === route.guid);
      assert.deepEqual(
        kept.destinations.map((d: { app: { guid: string } }) => d.app.guid),
        [platform.apps[0]],
      );
    });

    it('hides apps in spaces where the user has no role, as CC does: 404 and absent from lists', async () => {
      const space = cc.addSpace(platform.orgGuid, 'private');
      const hidden = cc.addApp({ name: 'private-app', spaceGuid: space.guid });
      assert.equal((await get(`/v3/apps/${hidden.guid}`)).status, 404);
      assert.equal((await get(`/v3/apps?guids=${hidden.guid}`)).json.pagination.total_results, 0);
      cc.grantSpaceRole(READER, space.guid);
      assert.equal((await get(`/v3/apps/${hidden.guid}`)).status, 200);
    });
  });

  describe('pagination and query rules', () => {
    it('paginates with absolute, sorted, %2C-escaped hrefs and accepts both , and %2C', async () => {
      const guids = platform.apps.join(',');
      const { json } = await get(`/v3/apps?per_page=1&guids=${guids}`);
      assert.equal(json.pagination.total_results, 3);
      assert.equal(json.pagination.total_pages, 3);
      assert.equal(json.pagination.previous, null);
      assert.equal(json.pagination.next.href, `${cc.url}/v3/apps?guids=${platform.apps.join('%2C')}&page=2&per_page=1`);
      assert.equal(json.pagination.last.href, `${cc.url}/v3/apps?guids=${platform.apps.join('%2C')}&page=3&per_page=1`);
      const escaped = await get(`/v3/apps?per_page=1&page=3&guids=${platform.apps.join('%2C')}`);
      assert.equal(escaped.json.resources[0].guid, platform.apps[2]);
      assert.equal(escaped.json.pagination.next, null);
    });

    it('answers an empty list with total_pages 1 and no next or previous', async () => {
      const { json } = await get('/v3/apps?guids=nothing-here');
      assert.deepEqual(json.resources, []);
      assert.equal(json.pagination.total_results, 0);
      assert.equal(json.pagination.total_pages, 1);
      assert.equal(json.pagination.next, null);
      assert.equal(json.pagination.previous, null);
      assert.match(json.pagination.first.href, /page=1&per_page=50$/, 'per_page defaults to 50');
    });

    for (const [query, detail] of [
      ['per_page=5001', /between 1 and 5000/],
      ['per_page=0', /positive integer/],
      ['page=0', /positive integer/],
      ['per_page=ten', /positive integer/],
      ['colour=blue', /Unknown query parameter\(s\): 'colour'/],
    ] as const) {
      it(`refuses ${query} with 400 CF-BadQueryParameter`, async () => {
        const { status, json } = await get(`/v3/apps?${query}`);
        assert.equal(status, 400);
        assert.equal(json.errors[0].title, 'CF-BadQueryParameter');
        assert.equal(json.errors[0].code, 10005);
        assert.match(json.errors[0].detail, detail);
      });
    }

    it('answers a URI longer than the limit with 414, as nginx does', async () => {
      const guids = Array.from({ length: 250 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
      const { status } = await get(`/v3/apps?guids=${guids.join('%2C')}`);
      assert.equal(status, 414);
      assert.equal((await get(`/v3/apps?guids=${guids.slice(0, 150).join('%2C')}`)).status, 200, '150 guids fit');
    });
  });

  describe('scale', () => {
    it('serves 10,000 apps: guid batches and full listings stay fast', async () => {
      const big = await startEmulator();
      try {
        const seeded = await timed(async () => seedPlatform(big, 10_000, { instances: 1 }));
        assert.ok(seeded.ms < 5_000, `seeding took ${seeded.ms.toFixed(0)} ms`);
        const apps = seeded.value!.apps;
        const client = readerClient(big);
        const batch = apps.filter((_, i) => i % 67 === 0).slice(0, 100);
        const listed = await timed(() =>
          Promise.all([
            client.listApps({ guids: batch }),
            client.listProcesses({ appGuids: batch, types: ['web'] }),
            client.listRoutes({ appGuids: batch }),
          ]),
        );
        assert.equal(listed.error, undefined, String(listed.error));
        const [a, p, r] = listed.value!;
        assert.deepEqual([a.apps.length, p.length, r.routes.length], [100, 100, 100]);
        assert.ok(listed.ms < 2_000, `a 100-guid batch took ${listed.ms.toFixed(0)} ms`);
        const all = await timed(() => client.listApps({}));
        assert.equal(all.value?.apps.length, 10_000, String(all.error));
        assert.ok(all.ms < 5_000, `listing all took ${all.ms.toFixed(0)} ms`);
      } finally {
        await big.stop();
      }
    });
  });
});
