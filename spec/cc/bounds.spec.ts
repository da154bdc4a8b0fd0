import assert from 'node:assert/strict';
import { CcAbortedError, CcIncompleteError, MAX_PAGES } from '../../shared/cc';
import type { CcEmulator } from '../../emulator';
import { Platform, readerClient, rejection, seedPlatform, seen, startEmulator, timed } from './fixtures';

/*
 * A Cloud Controller answer must never hold the caller forever, and a platform where apps come
 * and go while we page must not make every listing fail.
 */
describe('Cloud Controller client: bounded listings and abortable requests', function () {
  this.timeout(15_000);
  let cc: CcEmulator;
  let platform: Platform;

  before(async () => {
    cc = await startEmulator();
    platform = seedPlatform(cc, 9);
  });
  after(async () => cc?.stop());
  beforeEach(() => cc.resetRequests());
  afterEach(() => {
    cc.clearFaults();
    cc.beforeAnswer = undefined;
  });

  it(`a next link that never ends stops with a clear error after ${MAX_PAGES} pages, not one request more`, async () => {
    cc.injectFault({ match: /^\/v3\/routes$/, kind: 'endless', times: Infinity });
    const err = await rejection(readerClient(cc).listRoutes({ appGuids: platform.apps }));
    assert.ok(err instanceof CcIncompleteError, String(err));
    assert.match(err.message, new RegExp(`did not end after ${MAX_PAGES} pages`));
    assert.equal(seen(cc, /^\/v3\/routes$/).length, MAX_PAGES);
  });

  it('a next link back to a page already read is an error at once', async () => {
    cc.injectFault({ match: /^\/v3\/apps$/, kind: 'loop', times: Infinity });
    const err = await rejection(readerClient(cc).listApps({ guids: platform.apps, perPage: 2 }));
    assert.ok(err instanceof CcIncompleteError, String(err));
    assert.match(err.message, /links back to a page already read/);
    assert.equal(seen(cc, /^\/v3\/apps$/).length, 1);
  });

  it('apps created and deleted between pages: the listing succeeds, holds no app twice, and shows the apps pushed meanwhile', async () => {
    const space = platform.spaceGuid;
    const created: string[] = [];
    let deleted: string | undefined;
    cc.beforeAnswer = (path, q) => {
      if (path !== '/v3/apps' || q.get('page') !== '2') return;
      // Someone pushes two apps and deletes one listed on page 1 while we read page 2.
      created.push(
        cc.addApp({ name: `pushed-${created.length}`, spaceGuid: space }).guid,
        cc.addApp({ name: `pushed-${created.length + 1}`, spaceGuid: space }).guid,
      );
      deleted = platform.apps[0];
      cc.deleteApp(deleted);
    };
    const { apps } = await readerClient(cc).listApps({ perPage: 4 });
    const guids = apps.map((a) => a.guid);
    assert.equal(new Set(guids).size, guids.length, 'no app twice');
    for (const g of created) assert.ok(guids.includes(g), 'apps created while paging appear on later pages');
    assert.ok(guids.includes(deleted!), 'the deleted app was read on page 1 before it went');
    assert.ok(seen(cc, /^\/v3\/apps$/).length >= 3);
  });

  it('an aborted request ends at once, although the CC never answers and the client would wait 10 s', async () => {
    const client = readerClient(cc, { timeoutMs: 10_000, retries: 2 });
    await client.getApp(platform.apps[1]); // a token first
    cc.injectTimeout('/v3/apps', Infinity);
    const signal = AbortSignal.timeout(200);
    const t = await timed(() => client.getApp(platform.apps[1], { signal }));
    assert.ok(t.error instanceof CcAbortedError, String(t.error));
    assert.ok(t.ms < 1_000, `ended after ${Math.round(t.ms)} ms`);
    assert.equal(seen(cc, /^\/v3\/apps\//).length, 2, 'and it was not retried');
  });

  it('an abort also ends a Retry-After wait, and an aborted signal sends nothing', async () => {
    const client = readerClient(cc, { retries: 2, maxRetryAfterMs: 10_000 });
    await client.getApp(platform.apps[1]);
    cc.injectFault({ match: '/v3/processes', status: 429, retryAfterSeconds: 8, times: Infinity });
    const waited = await timed(() =>
      client.listProcesses({ appGuids: [platform.apps[1]] }, { signal: AbortSignal.timeout(200) }),
    );
    assert.ok(waited.error instanceof CcAbortedError, String(waited.error));
    assert.ok(waited.ms < 1_000, `a Retry-After of 8 s ended after ${Math.round(waited.ms)} ms`);
    cc.clearFaults();
    const signal = AbortSignal.abort(new Error('the caller gave up'));
    const none = await timed(() => client.listRoutes({ appGuids: [platform.apps[1]] }, { signal }));
    assert.ok(none.error instanceof CcAbortedError, String(none.error));
    assert.match(String((none.error as Error).message), /the caller gave up/);
    assert.equal(seen(cc, /^\/v3\/routes$/).length, 0, 'an aborted signal sends nothing');
  });
});
