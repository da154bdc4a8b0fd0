import assert from 'node:assert/strict';
import type { CcEmulator } from '../../emulator';
import { READER, READER_PASSWORD, startEmulator } from './fixtures';

/** Parsed JSON under test: `any` so each test can reach into the documented shape it asserts. */
type Reply = { status: number; json: any };

const AUDITOR = 'space-b-auditor';
const AUDITOR_PASSWORD = 'auditor-pw-never-print';
const ADMIN_RO = 'admin-read-only';
const ADMIN_RO_PASSWORD = 'admin-ro-pw-never-print';
const T0 = Date.parse('2026-11-30T10:00:00.000Z');
const ISO_SECOND = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe('CC emulator: audit events (GET /v3/audit_events over HTTP)', function () {
  this.timeout(30_000);
  let cc: CcEmulator;
  let now: number;
  const tokens = new Map<string, string>();
  let orgGuid: string, spaceA: string, spaceB: string, domainGuid: string;

  async function token(username: string, password: string): Promise<string> {
    const body = new URLSearchParams({ grant_type: 'password', username, password });
    const res = await fetch(`${cc.url}/oauth/token`, {
      method: 'POST',
      headers: { Authorization: 'Basic Y2Y6' },
      body,
    });
    return ((await res.json()) as { access_token: string }).access_token; // Y2Y6 is "cf:", the cf CLI's client
  }
  async function get(pathOrUrl: string, user = READER): Promise<Reply> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${cc.url}${pathOrUrl}`;
    const res = await fetch(url, { headers: { Authorization: `bearer ${tokens.get(user)}` } });
    return { status: res.status, json: await res.json() };
  }
  /** All events a listing returns, following its next links. */
  async function all(path: string, user = READER): Promise<any[]> {
    const out: any[] = [];
    let next: string | null = path;
    while (next) {
      const r = await get(next, user);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      out.push(...r.json.resources);
      next = r.json.pagination.next?.href ?? null;
    }
    return out;
  }
  const at = (second: number) => new Date(T0 + second * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const types = (events: any[]) => events.map((e) => e.type);
  /** An audit.app.update event for app `name` in space A, `second`s after T0 (plus 400 ms). */
  const marker = (name: string, second: number) =>
    cc.recordAuditEvent({
      type: 'audit.app.update',
      target: { guid: `guid-${name}`, type: 'app', name },
      spaceGuid: spaceA,
      at: T0 + second * 1000 + 400,
    });

  beforeEach(async () => {
    cc = await startEmulator();
    now = T0 + 250;
    cc.eventClock = () => now;
    cc.addUser(AUDITOR, AUDITOR_PASSWORD);
    cc.addUser(ADMIN_RO, ADMIN_RO_PASSWORD, { globalRead: true });
    const org = cc.addOrg('org-a');
    orgGuid = org.guid;
    spaceA = cc.addSpace(org.guid, 'space-a').guid;
    spaceB = cc.addSpace(org.guid, 'space-b').guid;
    cc.grantSpaceRole(READER, spaceA);
    cc.grantSpaceRole(AUDITOR, spaceB);
    domainGuid = cc.addDomain('apps.example.com').guid;
    const users = { [READER]: READER_PASSWORD, [AUDITOR]: AUDITOR_PASSWORD, [ADMIN_RO]: ADMIN_RO_PASSWORD };
    for (const [u, p] of Object.entries(users)) tokens.set(u, await token(u, p));
  });
  afterEach(async () => cc?.stop());

  it('records the CC event of every platform change, with its target, space and organization', async () => {
    const app = cc.addApp({ name: 'shop', spaceGuid: spaceA, instances: 2 });
    const route = cc.addRoute({ host: 'shop-host', domainGuid, spaceGuid: spaceA });
    cc.mapRoute(route.guid, app.guid);
    cc.scale(app.guid, 5);
    cc.stopApp(app.guid);
    cc.startApp(app.guid);
    cc.restartApp(app.guid);
    cc.rename(app.guid, 'shop-v2');
    cc.startRollingDeploy(app.guid, 5);
    cc.finishRollingDeploy(app.guid);
    cc.unmapRoute(route.guid, app.guid);
    cc.deleteRoute(route.guid);
    cc.deleteApp(app.guid);
    const events = await all('/v3/audit_events');
    const expected =
      'app.create route.create app.map-route app.process.scale app.stop app.start app.restart app.update app.deployment.create app.unmap-route route.delete-request app.delete-request';
    assert.deepEqual(
      types(events),
      expected.split(' ').map((t) => `audit.${t}`),
    );
    for (const e of events) {
      assert.equal(e.space.guid, spaceA);
      assert.equal(e.organization.guid, orgGuid);
      assert.match(e.created_at, ISO_SECOND);
      assert.equal(e.updated_at, e.created_at);
      assert.equal(e.links.self.href, `${cc.url}/v3/audit_events/${e.guid}`);
      assert.deepEqual(Object.keys(e.actor).sort(), ['guid', 'name', 'type']);
      const isRoute = e.type.startsWith('audit.route.');
      assert.deepEqual(
        e.target,
        isRoute
          ? { guid: route.guid, type: 'route', name: 'shop-host' }
          : { guid: app.guid, type: 'app', name: e.type.match(/update|deployment|unmap|delete/) ? 'shop-v2' : 'shop' },
      );
    }
    const byType = new Map(events.map((e) => [e.type, e]));
    assert.equal(byType.get('audit.app.process.scale').data.request.instances, 5);
    assert.equal(byType.get('audit.app.update').data.request.name, 'shop-v2');
    const map = byType.get('audit.app.map-route').data;
    assert.equal(map.route_guid, route.guid);
    assert.equal(map.process_type, 'web');
    assert.equal(map.app_port, 8080);
    assert.match(map.destination_guid, /^[0-9a-f-]{36}$/);
    assert.equal(byType.get('audit.app.unmap-route').data.destination_guid, map.destination_guid);
    const one = await get(`/v3/audit_events/${byType.get('audit.app.stop').guid}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.json, byType.get('audit.app.stop'));
  });

  it('gives every event of one second that second, and lists them in the order they happened', async () => {
    const app = cc.addApp({ name: 'a', spaceGuid: spaceA });
    now = T0 + 999;
    cc.scale(app.guid, 3);
    cc.stopApp(app.guid);
    now = T0 + 1000;
    cc.startApp(app.guid);
    const events = await all('/v3/audit_events?order_by=created_at');
    assert.deepEqual(types(events), [
      'audit.app.create',
      'audit.app.process.scale',
      'audit.app.stop',
      'audit.app.start',
    ]);
    assert.deepEqual(
      events.map((e) => e.created_at),
      [at(0), at(0), at(0), at(1)],
    );
  });

  it('created_ats[gte] on the last second seen still finds an event written in that second after the poll', async () => {
    const app = cc.addApp({ name: 'a', spaceGuid: spaceA });
    const first = await all(`/v3/audit_events?created_ats[gte]=${at(0)}&order_by=created_at`);
    assert.deepEqual(types(first), ['audit.app.create']);
    now = T0 + 900; // same second, after the poll
    cc.stopApp(app.guid);
    const gte = await all(`/v3/audit_events?created_ats[gte]=${at(0)}&order_by=created_at`);
    assert.deepEqual(types(gte), ['audit.app.create', 'audit.app.stop']);
    const gt = await all(`/v3/audit_events?created_ats[gt]=${at(0)}&order_by=created_at`);
    assert.deepEqual(gt, [], 'gt on the same second loses it, as on the real CC');
  });

  it('compares created_ats with gt, gte, lt and lte per second, accepts equality lists and percent-encoded keys', async () => {
    marker('a0', 0);
    marker('b0', 0);
    marker('a1', 1);
    marker('b1', 1);
    marker('a2', 2);
    const names = async (query: string) =>
      (await all(`/v3/audit_events?order_by=created_at&${query}`)).map((e) => e.target.name);
    assert.deepEqual(await names(`created_ats[gt]=${at(1)}`), ['a2']);
    assert.deepEqual(await names(`created_ats[gte]=${at(1)}`), ['a1', 'b1', 'a2']);
    assert.deepEqual(await names(`created_ats[lt]=${at(1)}`), ['a0', 'b0']);
    assert.deepEqual(await names(`created_ats[lte]=${at(1)}`), ['a0', 'b0', 'a1', 'b1']);
    assert.deepEqual(await names(`created_ats=${at(0)},${at(2)}`), ['a0', 'b0', 'a2']);
    assert.deepEqual(await names(`created_ats%5Bgte%5D=${at(1)}&created_ats%5Blt%5D=${at(2)}`), ['a1', 'b1']);
    assert.deepEqual(await names(`updated_ats[gt]=${at(0)}&updated_ats[lte]=${at(1)}`), ['a1', 'b1']);
  });

  it('refuses timestamps the CC refuses (sub-second, not UTC, not a date, a list with an operator) with 400', async () => {
    for (const bad of [
      'created_ats[gte]=2026-11-30T10:00:00.500Z',
      'created_ats[gte]=2026-11-30T10:00:00%2B01:00',
      'created_ats[lt]=yesterday',
      'created_ats=2026-13-40T10:00:00Z',
      `created_ats[gt]=${at(0)},${at(1)}`,
      'created_ats[near]=2026-11-30T10:00:00Z',
    ]) {
      const r = await get(`/v3/audit_events?${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.json.errors[0].title, 'CF-BadQueryParameter', bad);
      assert.equal(r.json.errors[0].code, 10005, bad);
    }
  });

  it('filters by types, target_guids (and their exclusion), space_guids and organization_guids', async () => {
    const a = cc.addApp({ name: 'a', spaceGuid: spaceA });
    const b = cc.addApp({ name: 'b', spaceGuid: spaceB });
    cc.stopApp(a.guid);
    cc.stopApp(b.guid);
    cc.scale(a.guid, 4);
    const otherOrg = cc.addOrg('org-b');
    const spaceC = cc.addSpace(otherOrg.guid, 'space-c');
    const c = cc.addApp({ name: 'c', spaceGuid: spaceC.guid });
    const pick = async (query: string) =>
      (await all(`/v3/audit_events?${query}`, ADMIN_RO)).map(
        (e) => `${e.type.replace('audit.app.', '')}:${e.target.name}`,
      );
    assert.deepEqual(await pick('types=audit.app.stop,audit.app.process.scale'), [
      'stop:a',
      'stop:b',
      'process.scale:a',
    ]);
    assert.deepEqual(await pick(`target_guids=${b.guid},${c.guid}`), ['create:b', 'stop:b', 'create:c']);
    assert.deepEqual(await pick(`target_guids[not]=${a.guid}&types=audit.app.stop`), ['stop:b']);
    assert.deepEqual(await pick(`space_guids=${spaceB}`), ['create:b', 'stop:b']);
    assert.deepEqual(await pick(`organization_guids=${otherOrg.guid}`), [`create:${c.name}`]);
  });

  it('orders by created_at or updated_at either way and refuses any other order', async () => {
    for (const [i, name] of ['x', 'y', 'z'].entries()) marker(name, i === 2 ? 1 : 0);
    const order = async (o: string) => (await all(`/v3/audit_events?order_by=${o}`)).map((e) => e.target.name);
    assert.deepEqual(await order('created_at'), ['x', 'y', 'z']);
    assert.deepEqual(await order('-created_at'), ['z', 'y', 'x']);
    assert.deepEqual(await order('updated_at'), ['x', 'y', 'z']);
    assert.deepEqual(await order('-updated_at'), ['z', 'y', 'x']);
    const bad = await get('/v3/audit_events?order_by=type');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.errors[0].title, 'CF-BadQueryParameter');
  });

  it('pages across three pages with next and previous links that keep every filter', async () => {
    for (let i = 0; i < 8; i++) marker(`m${i}`, i);
    cc.recordAuditEvent({
      type: 'audit.app.start',
      target: { guid: 'g', type: 'app', name: 'other-type' },
      at: T0 + 3000,
    });
    const first = await get(`/v3/audit_events?types=audit.app.update&created_ats%5Bgte%5D=${at(1)}&per_page=3`);
    assert.equal(first.status, 200);
    assert.equal(first.json.pagination.total_results, 7);
    assert.equal(first.json.pagination.total_pages, 3);
    assert.equal(first.json.pagination.previous, null);
    const second = await get(first.json.pagination.next.href);
    const third = await get(second.json.pagination.next.href);
    assert.equal(third.json.pagination.next, null);
    assert.equal(
      (await get(third.json.pagination.previous.href)).json.resources[0].guid,
      second.json.resources[0].guid,
    );
    const names = [first, second, third].flatMap((r) => r.json.resources.map((e: any) => e.target.name));
    assert.deepEqual(names, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    assert.equal((await get('/v3/audit_events?per_page=5001')).status, 400);
    assert.equal((await get('/v3/audit_events?per_page=5000')).status, 200);
  });

  it('shows a space auditor only its spaces, and space-less events only to global readers', async () => {
    cc.addApp({ name: 'in-a', spaceGuid: spaceA });
    const b = cc.addApp({ name: 'in-b', spaceGuid: spaceB });
    const orgEvent = cc.recordAuditEvent({
      type: 'audit.organization.update',
      target: { guid: orgGuid, type: 'organization', name: 'org-a' },
      orgGuid,
    });
    const seenBy = async (user: string) => (await all('/v3/audit_events', user)).map((e) => e.target.name);
    assert.deepEqual(await seenBy(AUDITOR), ['in-b']);
    assert.deepEqual(await seenBy(READER), ['in-a']);
    assert.deepEqual(await seenBy(ADMIN_RO), ['in-a', 'in-b', 'org-a']);
    const hidden = await get(`/v3/audit_events/${orgEvent.guid}`, AUDITOR);
    assert.equal(hidden.status, 404);
    assert.equal(hidden.json.errors[0].title, 'CF-ResourceNotFound');
    const bEvent = (await all(`/v3/audit_events?target_guids=${b.guid}`, AUDITOR))[0];
    assert.equal((await get(`/v3/audit_events/${bEvent.guid}`, READER)).status, 404);
    const global = await get(`/v3/audit_events/${orgEvent.guid}`, ADMIN_RO);
    assert.deepEqual([global.json.space, global.json.organization], [null, { guid: orgGuid }]);
  });

  it('answers 403 CF-NotAuthorized to a principal denied audit events, and 404 when the endpoint is switched off', async () => {
    cc.addApp({ name: 'a', spaceGuid: spaceA });
    cc.denyAuditEvents(READER);
    const denied = await get('/v3/audit_events');
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.json.errors[0], {
      detail: 'You are not authorized to perform the requested action',
      title: 'CF-NotAuthorized',
      code: 10003,
    });
    assert.equal((await get('/v3/apps')).status, 200, 'only audit events are denied');
    assert.equal((await get('/v3/audit_events', AUDITOR)).status, 200);
    cc.auditLog.available = false;
    for (const path of ['/v3/audit_events', `/v3/audit_events/${cc.auditLog.events[0].guid}`]) {
      const gone = await get(path, ADMIN_RO);
      assert.equal(gone.status, 404, path);
      assert.equal(gone.json.errors[0].title, 'CF-NotFound');
    }
  });

  it('injected faults apply to /v3/audit_events like to every other path', async () => {
    cc.injectFault({ match: '/v3/audit_events', status: 503 });
    assert.equal((await get('/v3/audit_events')).status, 503);
    assert.equal((await get('/v3/audit_events')).status, 200, 'the fault was used up');
  });
});
