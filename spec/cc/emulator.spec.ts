import assert from 'node:assert/strict';
import { CcEmulator } from '../../emulator';

/** The emulator must behave like CC where the client and the updater depend on it. */
describe('CC emulator fidelity', () => {
  let cc: CcEmulator;
  let token: string;
  let appGuid: string;
  const get = async (path: string) => {
    const res = await fetch(`${cc.url}${path}`, { headers: { Authorization: `bearer ${token}` } });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, any> };
  };

  before(async () => {
    cc = new CcEmulator();
    await cc.start();
    cc.addUser('u', 'p', { globalRead: true });
    const space = cc.addSpace(cc.addOrg('o').guid, 's');
    appGuid = cc.addApp({ name: 'a', spaceGuid: space.guid, instances: 3 }).guid;
    const res = await fetch(`${cc.url}/oauth/token`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from('cf:').toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=password&username=u&password=p',
    });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  after(() => cc.stop());

  it('keeps the instance count of a stopped app, as CC does', async () => {
    cc.stopApp(appGuid);
    assert.equal((await get(`/v3/apps/${appGuid}`)).body.state, 'STOPPED');
    assert.equal((await get(`/v3/processes?app_guids=${appGuid}&types=web`)).body.resources[0].instances, 3);
    cc.startApp(appGuid);
  });

  it('lists two web processes during a rolling deploy, one after it', async () => {
    cc.startRollingDeploy(appGuid, 1);
    assert.equal((await get(`/v3/processes?app_guids=${appGuid}&types=web`)).body.resources.length, 2);
    cc.finishRollingDeploy(appGuid);
    const after = (await get(`/v3/processes?app_guids=${appGuid}&types=web`)).body.resources;
    assert.equal(after.length, 1);
    assert.equal(after[0].instances, 1);
  });

  it('paginates with absolute, sorted hrefs and total_pages >= 1', async () => {
    const empty = (await get('/v3/apps?guids=none')).body;
    assert.deepEqual(empty.pagination.total_pages, 1);
    assert.equal(empty.pagination.next, null);
    const page = (await get('/v3/apps?per_page=1')).body;
    assert.match(page.pagination.first.href, new RegExp(`^${cc.url}/v3/apps\\?page=1&per_page=1$`));
  });

  it('answers bad per_page, unknown parameters, long URIs, v2 and missing tokens as CC does', async () => {
    const tooMany = await get('/v3/apps?per_page=5001');
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.errors[0].title, 'CF-BadQueryParameter');
    assert.equal((await get('/v3/apps?colour=red')).status, 400);
    assert.equal((await get(`/v3/apps?guids=${'x'.repeat(9000)}`)).status, 414);
    assert.equal((await get('/v2/apps')).status, 404);
    const anon = await fetch(`${cc.url}/v3/apps`);
    assert.equal(anon.status, 401);
    assert.equal(((await anon.json()) as { errors: Array<{ title: string }> }).errors[0].title, 'CF-NotAuthenticated');
  });

  it('answers 429 with Retry-After, X-RateLimit headers and a text/plain content type', async () => {
    cc.injectFault({ match: '/v3/apps', status: 429, retryAfterSeconds: 7 });
    const res = await fetch(`${cc.url}/v3/apps`, { headers: { Authorization: `bearer ${token}` } });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '7');
    assert.ok(res.headers.get('x-ratelimit-reset'));
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  });
});
