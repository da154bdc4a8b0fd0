import assert from 'node:assert/strict';
import { CcApiError, CcIncompleteError } from '../../shared/cc';
import type { CcEmulator } from '../../emulator';
import { Platform, readerClient, rejection, seedPlatform, seen, startEmulator } from './fixtures';

describe('Cloud Controller client: listings and pagination', function () {
  this.timeout(15_000);
  let cc: CcEmulator;
  let platform: Platform;

  before(async () => {
    cc = await startEmulator();
    platform = seedPlatform(cc, 7);
  });
  after(async () => cc?.stop());
  beforeEach(() => cc.resetRequests());
  afterEach(() => cc.clearFaults());

  it('keeps the guid filter on every page, following the %2C-escaped next.href verbatim', async () => {
    const wanted = [platform.apps[6], platform.apps[1], platform.apps[4], platform.apps[2], platform.apps[0]];
    const { apps } = await readerClient(cc).listApps({ guids: wanted, perPage: 2 });
    assert.deepEqual(apps.map((a) => a.guid).sort(), [...wanted].sort());
    const pages = seen(cc, /^\/v3\/apps$/);
    assert.equal(pages.length, 3);
    for (const later of pages.slice(1)) {
      assert.match(later.query, /guids=[^&]*%2C/, 'the next href as CC wrote it: commas escaped');
      assert.match(
        later.query,
        /^\?guids=.*&include=space\.organization&page=\d&per_page=2$/,
        'sorted keys, as Rails to_query writes them',
      );
    }
  });

  it('lists web processes of several apps, and routes with their domains', async () => {
    const client = readerClient(cc);
    const processes = await client.listProcesses({ appGuids: platform.apps.slice(0, 3), types: ['web'], perPage: 2 });
    assert.deepEqual(processes.map((p) => p.relationships.app.data.guid).sort(), platform.apps.slice(0, 3).sort());
    assert.ok(processes.every((p) => p.type === 'web' && p.instances === 2));
    const { routes, domains } = await client.listRoutes({ appGuids: platform.apps, perPage: 3 });
    assert.equal(routes.length, 7);
    assert.deepEqual(
      domains.map((d) => d.name),
      ['apps.example.com'],
      'one domain, although every page included it',
    );
    assert.ok(
      routes.every((r) => r.relationships.domain.data.guid === platform.domainGuid && r.destinations.length === 1),
    );
  });

  it('returns nothing, from one request, for guids that do not exist', async () => {
    const { apps, spaces } = await readerClient(cc).listApps({ guids: ['no-such-app-1', 'no-such-app-2'] });
    assert.deepEqual(apps, []);
    assert.deepEqual(spaces, []);
    assert.equal(seen(cc, /^\/v3\/apps$/).length, 1);
  });

  it('exposes listAll for other v3 lists, joining list values with commas', async () => {
    cc.addDomain('other.example.com');
    cc.addDomain('third.example.com');
    const { resources } = await readerClient(cc).listAll<{ guid: string; name: string }>('/v3/domains', {
      names: ['apps.example.com', 'third.example.com'],
      per_page: 1,
    });
    assert.deepEqual(
      resources.map((d) => d.name),
      ['apps.example.com', 'third.example.com'],
    );
    assert.match(seen(cc, /^\/v3\/domains$/)[0].query, /names=apps\.example\.com(,|%2C)third\.example\.com/);
  });

  it('a single short page is caught too: the count must add up to total_results', async () => {
    cc.injectTruncatedPage(/^\/v3\/routes$/);
    const err = await rejection(readerClient(cc).listRoutes({ appGuids: platform.apps }));
    assert.ok(err instanceof CcIncompleteError, String(err));
    assert.match(err.message, /6 of 7/);
  });

  it('a 200 list without a pagination object is incomplete', async () => {
    cc.injectFault({ match: /^\/v3\/apps$/, status: 200, body: '{"resources":[]}', contentType: 'application/json' });
    const err = await rejection(readerClient(cc).listApps({}));
    assert.ok(err instanceof CcIncompleteError, String(err));
  });

  it('refuses to follow a next.href to another host: the token must not leave the Cloud Controller', async () => {
    const realUrl = cc.url;
    const client = readerClient(cc, { uaaUrl: realUrl });
    // The emulator writes its `url` into every href; point it elsewhere as a misconfigured proxy would.
    cc.url = 'http://elsewhere.invalid:9';
    try {
      const err = await rejection(client.listApps({ perPage: 2 }));
      assert.ok(err instanceof CcIncompleteError, String(err));
      assert.match(err.message, /another host/);
    } finally {
      cc.url = realUrl;
    }
    assert.equal(seen(cc, /^\/v3\/apps$/).length, 1);
  });

  it('a rejected query is a CcApiError with the CC code, and is not retried', async () => {
    const err = await rejection(readerClient(cc).listAll('/v3/apps', { no_such_filter: 'x' }));
    assert.ok(err instanceof CcApiError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.title, 'CF-BadQueryParameter');
    assert.equal(err.code, 10005);
    assert.equal(seen(cc, /^\/v3\/apps$/).length, 1);
  });
});
